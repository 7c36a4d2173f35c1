package chaos

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process is one kinship process under a supervisor that does what
// Kubernetes does for a pod's container: a process that exits is started
// again, after a back-off that doubles from 10 s up to 5 minutes and
// starts over once a run lasted 10 minutes (CrashLoopBackOff). Components
// exit on purpose when they cannot go on, such as a consumer whose broker
// went away. A process the harness killed comes back after the outage the
// fault chose. Its output goes to log.
type process struct {
	name string
	bin  string
	args []string
	env  []string
	log  string

	mu       sync.Mutex
	cmd      *exec.Cmd
	stopping bool
	down     time.Duration // how long the next restart waits (a kill's outage)
	kills    int           // kill -9s by the harness
	exits    int           // exits on the process's own
	ended    chan struct{} // closed when the supervisor has stopped
}

// start runs the process and its supervisor.
func (p *process) start() error {
	cmd, err := p.spawn()
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.cmd, p.ended = cmd, make(chan struct{})
	p.mu.Unlock()
	go p.supervise(cmd)
	return nil
}

func (p *process) spawn() (*exec.Cmd, error) {
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = p.env, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	_ = logf.Close() // the child holds its own descriptor
	return cmd, err
}

func (p *process) supervise(cmd *exec.Cmd) {
	defer close(p.ended)
	backoff := 10 * time.Second
	for {
		began := time.Now()
		_ = cmd.Wait()
		p.mu.Lock()
		stopping, down := p.stopping, p.down
		p.down = 0
		if down == 0 && !stopping {
			p.exits++
		}
		p.mu.Unlock()
		if stopping {
			return
		}
		if time.Since(began) > 10*time.Minute {
			backoff = 10 * time.Second
		}
		if down == 0 {
			down = backoff
			backoff = min(backoff*2, 5*time.Minute)
		}
		p.sleep(down)
		for {
			p.mu.Lock()
			stopping = p.stopping
			p.mu.Unlock()
			if stopping {
				return
			}
			next, err := p.spawn()
			if err == nil {
				cmd = next
				break
			}
			time.Sleep(time.Second)
		}
		p.mu.Lock()
		p.cmd = cmd
		p.mu.Unlock()
	}
}

// kill9 kills the process at once, as a crash or an OOM kill would; the
// supervisor starts it again after down.
func (p *process) kill9(down time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.stopping {
		return
	}
	p.down = down
	p.kills++
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
}

// stopFor stops the process gracefully (SIGTERM), as an upgrade or a node
// drain does; the supervisor starts it again after down.
func (p *process) stopFor(down time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.stopping {
		return
	}
	p.down = down
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
}

// counts returns the kills and the process's own exits so far.
func (p *process) counts() (kills, exits int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kills, p.exits
}

// stop ends the process gracefully, then for good, and its supervisor.
func (p *process) stop() {
	p.mu.Lock()
	if p.cmd == nil {
		p.mu.Unlock()
		return
	}
	p.stopping = true
	cmd, ended := p.cmd, p.ended
	_ = cmd.Process.Signal(syscall.SIGTERM)
	p.mu.Unlock()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		p.mu.Lock()
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		p.mu.Unlock()
		<-ended
	}
}

// sleep waits d, or less when the process is being stopped.
func (p *process) sleep(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		stopping := p.stopping
		p.mu.Unlock()
		if stopping {
			return
		}
		time.Sleep(min(100*time.Millisecond, time.Until(deadline)))
	}
}

// logged reports whether the log at path holds text.
func logged(path, text string) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Contains(b, []byte(text))
}

// waitLogged waits until the log at path holds text.
func waitLogged(ctx context.Context, path, text string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for !logged(path, text) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%q not logged within %v", text, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
