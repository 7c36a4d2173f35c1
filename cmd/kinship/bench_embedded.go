//go:build !nodev

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/kinshiphq/kinship/internal/devstack"
	"github.com/kinshiphq/kinship/internal/telemetry"
)

// embeddedStack is `kinship dev` in a temporary folder for a benchmark
// (Temporal on SQLite, the in-process broker, the services on SQLite),
// with a client of its Temporal server for the demo community.
type embeddedStack struct {
	ep    devstack.Endpoints
	tc    client.Client
	close func()
}

// startEmbeddedStack runs the stack until close is called. The stack stops
// under journeys still at work: what it logs then is noise, so it logs
// nothing; failures that matter come back as errors.
// benchEmailPerSecond lifts the communications service's sending limit
// (50 a second per community by default) in the benchmarks' stacks, which
// measure the path to the mail sink, not the limit.
const benchEmailPerSecond = 1_000_000

func startEmbeddedStack(ctx context.Context, name string, logger *slog.Logger) (*embeddedStack, error) {
	dir, err := os.MkdirTemp("", "kinship-bench-"+name+"-")
	if err != nil {
		return nil, err
	}
	tel, err := telemetry.New(ctx, telemetry.Config{Version: version})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	stackCtx, stop := context.WithCancel(ctx)
	ready := make(chan devstack.Endpoints, 1)
	done := make(chan error, 1)
	go func() {
		done <- devstack.Run(stackCtx, devstack.Config{DataDir: dir, Communities: []string{"demo"},
			EmailPerSecond: benchEmailPerSecond}, devstack.Deps{Logger: quiet, Telemetry: tel},
			func(ep devstack.Endpoints) { ready <- ep })
	}()
	s := &embeddedStack{}
	stopped := false
	s.close = func() {
		if s.tc != nil {
			s.tc.Close()
		}
		stop()
		if !stopped {
			if err := <-done; err != nil {
				logger.Warn("the bench stack stopped with an error", "error", err)
			}
		}
		_ = tel.Shutdown(context.WithoutCancel(ctx))
		_ = os.RemoveAll(dir)
	}
	select {
	case s.ep = <-ready:
	case err := <-done:
		stopped = true
		s.close()
		return nil, fmt.Errorf("bench: the stack stopped: %w", err)
	case <-time.After(2 * time.Minute):
		s.close()
		return nil, errors.New("bench: the stack was not ready within 2 minutes")
	}
	if s.tc, err = client.Dial(client.Options{HostPort: s.ep.Temporal, Namespace: "demo", Logger: tlog.NewStructuredLogger(quiet)}); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}
