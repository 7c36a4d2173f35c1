package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"time"
)

// fault is one injected failure, healed before the next starts.
type fault struct {
	kind    string
	service string // the service it hits, where it hits one
	replica int
	holdFor time.Duration
}

// faultKinds are what the schedule draws from.
var faultKinds = []string{
	"kill9-replica", "kill9-worker", "broker-unreachable", "postgres-restart", "smtp-refusing",
	"db-connections-dropped", "worker-partition", "kill9-temporal", "smtp-timeout", "db-partition", "worker-delay",
	"broker-restart",
}

var apiServices = []string{"members", "events", "communications", "partners"}

// schedule draws n faults from seed, of the kinds not in skip; every kind
// comes once, in the order above, before any repeats, so a short run
// still covers the first few.
func schedule(seed uint64, n int, top topology, hold time.Duration, skip []string) []fault {
	rng := rand.New(rand.NewPCG(seed, 0xfa017))
	var kinds []string
	for _, k := range faultKinds {
		if !slices.Contains(skip, k) {
			kinds = append(kinds, k)
		}
	}
	var out []fault
	for i := range n {
		kind := kinds[i%len(kinds)]
		if i >= len(kinds) {
			kind = kinds[rng.IntN(len(kinds))]
		}
		f := fault{kind: kind, service: apiServices[rng.IntN(len(apiServices))], replica: rng.IntN(top.replicas),
			holdFor: hold/2 + time.Duration(rng.Int64N(int64(hold)))}
		if kind == "kill9-worker" {
			f.service, f.replica = "worker", rng.IntN(top.workers)
		}
		if kind == "kill9-replica" && i < len(kinds) {
			f.service = "communications" // a sender's crash, the e-mail path's hardest case
		}
		out = append(out, f)
	}
	return out
}

// inject runs f against c and heals it; it returns what it did, for the log.
func (c *cluster) inject(ctx context.Context, f fault) (string, error) {
	svc := c.services[f.service]
	r := svc.replicas[f.replica%len(svc.replicas)]
	wait := func() {
		select {
		case <-ctx.Done():
		case <-time.After(f.holdFor):
		}
	}
	switch f.kind {
	case "kill9-replica", "kill9-worker":
		r.proc.kill9(f.holdFor)
		wait()
		return fmt.Sprintf("kill -9 %s, restarted after %v", r.name, f.holdFor.Round(time.Millisecond)), waitReady(ctx, r.url, 120*time.Second)
	case "kill9-temporal":
		c.temporal.kill9(f.holdFor)
		wait()
		return fmt.Sprintf("kill -9 the Temporal server, restarted after %v", f.holdFor.Round(time.Millisecond)), nil
	case "broker-unreachable":
		c.kafka.Cut()
		wait()
		c.kafka.Heal()
		return fmt.Sprintf("broker unreachable (all connections dropped and refused) for %v", f.holdFor.Round(time.Millisecond)), nil
	case "broker-restart":
		// Stopped, down for a minute (topology.brokerDown), and started
		// again on its data folder: the outboxes hold what is written
		// meanwhile and drain it, in key order, once it is back.
		down := c.top.brokerDown
		c.broker.stopFor(down)
		select {
		case <-ctx.Done():
		case <-time.After(down):
		}
		if err := waitListening(ctx, c.brokerAddr, time.Minute); err != nil {
			return "", fmt.Errorf("broker restart: %w", err)
		}
		return fmt.Sprintf("broker stopped for %v and restarted on its data", down.Round(time.Millisecond)), nil
	case "postgres-restart":
		if err := c.pg.Restart(ctx); err != nil {
			return "", fmt.Errorf("restart postgresql: %w", err)
		}
		return "postgresql restarted", nil
	case "db-connections-dropped":
		r.db.Drop()
		return fmt.Sprintf("%s: every database connection dropped", r.name), nil
	case "db-partition":
		r.db.Cut()
		wait()
		r.db.Heal()
		return fmt.Sprintf("%s cut from the database for %v", r.name, f.holdFor.Round(time.Millisecond)), nil
	case "smtp-refusing":
		c.mail.refuse.Store(true)
		wait()
		c.mail.refuse.Store(false)
		return fmt.Sprintf("mail server refusing (451) for %v", f.holdFor.Round(time.Millisecond)), nil
	case "smtp-timeout":
		c.smtp.Stall()
		wait()
		c.smtp.Heal()
		return fmt.Sprintf("mail server not answering for %v", f.holdFor.Round(time.Millisecond)), nil
	case "worker-partition":
		svc.workerFront.Cut()
		wait()
		svc.workerFront.Heal()
		return fmt.Sprintf("workers cut from %s for %v", f.service, f.holdFor.Round(time.Millisecond)), nil
	case "worker-delay":
		svc.workerFront.Delay(300 * time.Millisecond)
		wait()
		svc.workerFront.Heal()
		return fmt.Sprintf("workers' traffic to %s 300 ms slower for %v", f.service, f.holdFor.Round(time.Millisecond)), nil
	}
	return "", fmt.Errorf("unknown fault %q", f.kind)
}

// waitListening waits until something accepts connections at addr.
func waitListening(ctx context.Context, addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not listening after %v: %w", addr, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
