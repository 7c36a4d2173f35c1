package chaos

import (
	"fmt"
	"net"
)

// portHold keeps loopback ports bound until each is handed to the process
// that will listen on it. Picking a port by binding 127.0.0.1:0 and
// closing it at once lets the kernel hand the same port to the next
// caller: two replicas given one port, or a proxy taking a replica's
// port before the replica binds it. One replica then answers for the
// other (a members request answered 404 by an events replica), or none
// does. Holding every port until its process starts rules both out.
type portHold struct {
	lns []net.Listener
}

// holdPorts binds n distinct loopback ports and keeps them bound.
func holdPorts(n int) (*portHold, error) {
	h := &portHold{}
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			h.close()
			return nil, fmt.Errorf("hold a loopback port: %w", err)
		}
		h.lns = append(h.lns, ln)
	}
	return h, nil
}

// addr is the i-th held port's address.
func (h *portHold) addr(i int) string { return h.lns[i].Addr().String() }

// release frees the i-th port for the process about to listen on it.
func (h *portHold) release(i int) {
	if h.lns[i] != nil {
		_ = h.lns[i].Close()
		h.lns[i] = nil
	}
}

// close frees every port not yet released.
func (h *portHold) close() {
	for i := range h.lns {
		h.release(i)
	}
}
