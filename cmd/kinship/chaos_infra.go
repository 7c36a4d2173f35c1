//go:build !nodev

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kinshiphq/kinship/internal/devstack"
	"github.com/kinshiphq/kinship/internal/kafka/devbroker"
)

// runBroker runs the in-memory development broker (kfake) as a process of
// its own on a fixed address, for the chaos harness (test/chaos), which
// runs every component as a separate process: `kinship broker -addr
// 127.0.0.1:9092 -data-dir DIR`. With a data folder it keeps topics,
// records, committed offsets and groups there, so the harness can stop it
// and start it again; without one a restarted broker is empty. Not for
// production.
func runBroker(ctx context.Context, args []string, env envFunc, stdout io.Writer) error {
	var addr, advertise string
	var partitions int
	var linger time.Duration
	var dataDir string
	f := newFlags("broker", env)
	f.string(&dataDir, "data-dir", "KINSHIP_BROKER_DATA_DIR", "", "folder keeping topics, records, offsets and groups across restarts; empty keeps nothing")
	f.string(&addr, "addr", "KINSHIP_BROKER_ADDR", "127.0.0.1:9092", "loopback address to listen on")
	f.string(&advertise, "advertise", "KINSHIP_BROKER_ADVERTISE", "", "address clients are told to connect to, such as a proxy's in front of it; empty means -addr")
	if err := f.int(&partitions, "partitions", "KINSHIP_BROKER_PARTITIONS", 4, "partitions of automatically created topics"); err != nil {
		return err
	}
	if err := f.duration(&linger, "linger", "KINSHIP_BROKER_LINGER", 45*time.Second,
		"how long the broker's side of a connection its client left lingers (see lingerListener); longer than the consumers' rebalance timeout"); err != nil {
		return err
	}
	if err := f.parse(args); err != nil {
		return err
	}
	host, rawPort, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr: %s is not a loopback address; the development broker has no security", host)
	}
	port, err := strconv.Atoi(rawPort)
	if err != nil || port <= 0 || port > 65535 {
		return fmt.Errorf("-addr: bad port %q", rawPort)
	}
	if host != "127.0.0.1" {
		return fmt.Errorf("-addr: the development broker listens on 127.0.0.1 only, not %s", host)
	}
	listen := func(network, address string) (net.Listener, error) {
		ln, err := net.Listen(network, address)
		if err != nil {
			return nil, err
		}
		return lingerListener{Listener: ln, linger: linger}, nil
	}
	if advertise != "" {
		adv, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil || !adv.IP.IsLoopback() {
			return fmt.Errorf("-advertise: %q is not a loopback host:port", advertise)
		}
		lingering := listen
		listen = func(network, address string) (net.Listener, error) {
			ln, err := lingering(network, address)
			if err != nil {
				return nil, err
			}
			return advertised{Listener: ln, addr: adv}, nil
		}
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.ListenFn(listen),
		kfake.DefaultNumPartitions(partitions), kfake.AllowAutoTopicCreation()}
	if dataDir != "" {
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return fmt.Errorf("-data-dir: %w", err)
		}
		opts = append(opts, kfake.DataDir(dataDir))
	}
	c, err := devbroker.New(0, opts...)
	if err != nil {
		return fmt.Errorf("start broker: %w", err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(stdout, "broker listening on %v\n", c.ListenAddrs()); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// advertised is a listener that names another address than its own, so
// the broker's metadata sends clients through a proxy.
type advertised struct {
	net.Listener
	addr net.Addr
}

func (a advertised) Addr() net.Addr { return a.addr }

// runTemporalServer runs the embedded Temporal dev server (the one `kinship
// dev` embeds, on SQLite) as a process of its own, for the chaos harness:
// `kinship temporal-server -addr 127.0.0.1:7233 -data-file t.db -namespaces demo`.
// A restart on the same data file keeps the workflows. Not for production.
func runTemporalServer(ctx context.Context, args []string, env envFunc, logger *slog.Logger, stdout io.Writer) error {
	var addr, dataFile string
	var namespaces []string
	f := newFlags("temporal-server", env)
	f.string(&addr, "addr", "TEMPORAL_ADDRESS", "127.0.0.1:7233", "loopback address of the frontend")
	f.string(&dataFile, "data-file", "KINSHIP_TEMPORAL_DATA_FILE", "", "SQLite file keeping the server's state; its folder must exist")
	f.list(&namespaces, "namespaces", "KINSHIP_COMMUNITIES", "", "namespaces to register (one per community)")
	if err := f.parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr: %s is not a loopback address; the development server has no security", host)
	}
	if dataFile == "" || len(namespaces) == 0 {
		return errors.New("set -data-file and -namespaces")
	}
	srv, err := devstack.StartTemporal(devstack.TemporalConfig{DataFile: dataFile, Address: addr, Namespaces: namespaces,
		Logger: logger.With("component", "temporal")})
	if err != nil {
		return err
	}
	defer srv.Stop()
	if _, err := fmt.Fprintf(stdout, "temporal listening on %s\n", addr); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
