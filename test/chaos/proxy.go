package chaos

import (
	"net"
	"sync"
	"time"
)

// proxy forwards TCP connections from a loopback port to its targets in
// turn (a target that refuses is skipped, as a load balancer would), and
// lets the harness delay them, cut them (every open connection dropped,
// new ones closed at once: a partition), stall them (connections accepted
// and never answered: a timeout) and heal them.
type proxy struct {
	ln      net.Listener
	targets []string

	mu    sync.Mutex
	next  int
	cut   bool
	stall bool
	delay time.Duration
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// newProxy listens on a free loopback port and forwards to targets.
func newProxy(targets ...string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, targets: targets, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Stall drops every open connection and holds new ones without an answer
// until Heal.
func (p *proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stall = true
	p.dropLocked()
}

// Addr is the address clients dial.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

// Cut drops every open connection and refuses new ones until Heal.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.dropLocked()
}

// Drop closes every open connection once; new ones are let through.
func (p *proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropLocked()
}

func (p *proxy) dropLocked() {
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// Delay holds every chunk of data by d in each direction (0 heals).
func (p *proxy) Delay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Heal lets connections through again, without delay.
func (p *proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stall {
		p.dropLocked() // the connections held unanswered
	}
	p.cut, p.stall, p.delay = false, false, 0
}

// Close stops the proxy and drops its connections.
func (p *proxy) Close() {
	_ = p.ln.Close()
	p.Drop()
	p.wg.Wait()
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut, stall, first := p.cut, p.stall, p.next
		p.next++
		if stall {
			p.conns[in] = struct{}{}
		}
		p.mu.Unlock()
		if cut {
			_ = in.Close()
			continue
		}
		if stall {
			continue // held open, unanswered, until Heal or Close drops it
		}
		var out net.Conn
		for i := range p.targets {
			out, err = net.DialTimeout("tcp", p.targets[(first+i)%len(p.targets)], 2*time.Second)
			if err == nil {
				break
			}
		}
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

// pipe copies from src to dst, applying the delay, and closes both when
// either side ends.
func (p *proxy) pipe(src, dst net.Conn) {
	defer p.wg.Done()
	defer func() {
		_ = src.Close()
		_ = dst.Close()
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			d := p.delay
			p.mu.Unlock()
			if d > 0 {
				time.Sleep(d)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // io.EOF or a dropped connection
			return
		}
	}
}
