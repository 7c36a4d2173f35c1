// Package devstacktest runs the whole platform (devstack) for a test and
// dials its Temporal server.
package devstacktest

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/kinshiphq/kinship/internal/devstack"
)

// Start runs the stack with cfg (its DataDir a temporary folder when
// empty) until the test ends, and returns its endpoints once it is ready
// and a Temporal client of namespace, closed before the stack stops.
func Start(t *testing.T, cfg devstack.Config, deps devstack.Deps, namespace string) (devstack.Endpoints, client.Client) {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan devstack.Endpoints, 1)
	done := make(chan error, 1)
	go func() {
		done <- devstack.Run(ctx, cfg, deps, func(ep devstack.Endpoints) { ready <- ep })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("devstack.Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the stack did not stop within 30 s")
		}
	})
	var ep devstack.Endpoints
	select {
	case ep = <-ready:
	case err := <-done:
		t.Fatalf("the stack stopped before it was ready: %v", err)
	case <-time.After(120 * time.Second):
		t.Fatal("the stack was not ready within 120 s")
	}
	c, err := client.Dial(client.Options{HostPort: ep.Temporal, Namespace: namespace, Logger: tlog.NewStructuredLogger(deps.Logger)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return ep, c
}
