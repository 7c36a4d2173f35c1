package devstack

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/server_options"
)

// runTemporalUI serves the Temporal Web UI (temporalio/ui-server, its
// assets embedded) on addr against the embedded server at temporal until
// ctx ends. The UI server binds by itself and exits the process when it
// cannot, so addr is checked first; the dev stack held it until now.
func runTemporalUI(ctx context.Context, addr, temporal, namespace string) error {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("temporal ui address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("temporal ui address %q: port is not a number", addr)
	}
	if err := checkFree(addr); err != nil {
		return fmt.Errorf("temporal ui: %w", err)
	}
	cfg := &uiconfig.Config{
		TemporalGRPCAddress: temporal,
		Host:                host,
		Port:                port,
		EnableUI:            true,
		HideLogs:            true,
		DefaultNamespace:    namespace,
		// Served over plain HTTP on this machine.
		CORS:             uiconfig.CORS{CookieInsecure: true},
		DisableNewsFetch: true,
		Distribution:     "kinship-dev",
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("temporal ui: %w", err)
	}
	srv := uiserver.NewServer(server_options.WithConfigProvider(cfg))
	done := make(chan error, 1)
	go func() { done <- srv.Start() }()
	select {
	case err := <-done:
		return fmt.Errorf("temporal ui stopped: %w", err)
	case <-ctx.Done():
	}
	srv.Stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	return nil
}

// checkFree reports whether addr can be listened on now.
func checkFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s is taken: %w", addr, err)
	}
	return ln.Close()
}
