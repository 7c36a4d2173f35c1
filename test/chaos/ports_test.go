package chaos

import (
	"net"
	"testing"
)

func TestHeldPortsAreDistinctAndTakenUntilReleased(t *testing.T) {
	h, err := holdPorts(64)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	seen := map[string]bool{}
	for i := range h.lns {
		if seen[h.addr(i)] {
			t.Fatalf("port %s held twice", h.addr(i))
		}
		seen[h.addr(i)] = true
	}
	if ln, err := net.Listen("tcp", h.addr(7)); err == nil {
		_ = ln.Close()
		t.Fatalf("%s could be bound while held", h.addr(7))
	}
	addr := h.addr(7)
	h.release(7)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("%s released but not free: %v", addr, err)
	}
	_ = ln.Close()
	h.release(7) // twice is harmless
}
