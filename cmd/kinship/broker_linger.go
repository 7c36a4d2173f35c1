//go:build !nodev

package main

import (
	"net"
	"sync"
	"time"
)

// The development broker (kfake) forgets a consumer-group member whose
// JoinGroup answer it could not deliver: it starts the member's session
// timer only once an answer reached the connection, so a member that
// joined and then vanished — its process killed mid-join, or its
// connection cut while the group rebalanced — stays in the group for
// good, holding partitions nobody reads (a Kafka broker starts the timer
// whether or not the answer arrives). The chaos harness hit exactly that:
// a group "Stable" with three members for two worker processes, two
// partitions unread until the run ended.
//
// lingerListener works around it from outside: when a client's
// connection ends, the broker's side lingers — it keeps taking (and
// discarding) what the broker writes, and reports the end only after
// linger — as a broker's socket does when the network between it and a
// client is cut. Answers the broker sends meanwhile "arrive", so every
// member's session timer runs and a vanished member is expired after its
// session timeout, as on Kafka.
type lingerListener struct {
	net.Listener
	linger time.Duration
}

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newLingerConn(c, l.linger), nil
}

// lingerConn is one broker-side connection of a lingerListener.
type lingerConn struct {
	net.Conn
	linger time.Duration

	mu     sync.Mutex
	gone   bool          // the client's side ended (a read or write failed)
	closed chan struct{} // the broker closed this connection
	once   sync.Once
}

func newLingerConn(c net.Conn, linger time.Duration) *lingerConn {
	return &lingerConn{Conn: c, linger: linger, closed: make(chan struct{})}
}

// Read reads from the client; once the client is gone it waits linger
// (or until the broker closes the connection) before it says so.
func (c *lingerConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err == nil || n > 0 {
		return n, err
	}
	c.markGone()
	select {
	case <-time.After(c.linger):
	case <-c.closed:
	}
	return 0, err
}

// Write writes to the client, or discards once the client is gone.
func (c *lingerConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	gone := c.gone
	c.mu.Unlock()
	if gone {
		return len(p), nil
	}
	n, err := c.Conn.Write(p)
	if err != nil {
		c.markGone()
		return len(p), nil
	}
	return n, nil
}

func (c *lingerConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (c *lingerConn) markGone() {
	c.mu.Lock()
	c.gone = true
	c.mu.Unlock()
}
