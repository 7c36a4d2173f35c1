package external

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TemporalAdmin administers namespaces with the Temporal SDK: the namespace
// client registers, describes and updates them, the operator service
// deletes them. It keeps one connection per frontend address and TLS
// material, over (mutual) TLS when the cluster asks for it; new material,
// such as a renewed client certificate, gets a new connection, and
// connections left unused for idleAfter are closed.
type TemporalAdmin struct {
	logger  *slog.Logger
	timeout time.Duration

	mu    sync.Mutex
	conns map[string]*temporalConn // by TemporalCluster.key
}

type temporalConn struct {
	namespaces client.NamespaceClient
	client     client.Client
	lastUsed   time.Time
}

// idleAfter is how long a connection may stay unused before it is
// closed; far longer than any call on it takes.
const idleAfter = 30 * time.Minute

var _ Temporal = (*TemporalAdmin)(nil)

// NewTemporalAdmin returns an admin whose requests each take at most
// timeout.
func NewTemporalAdmin(logger *slog.Logger, timeout time.Duration) *TemporalAdmin {
	return &TemporalAdmin{logger: logger, timeout: timeout, conns: map[string]*temporalConn{}}
}

// Close closes every connection.
func (t *TemporalAdmin) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key, c := range t.conns {
		c.close()
		delete(t.conns, key)
	}
}

func (c *temporalConn) close() {
	c.namespaces.Close()
	c.client.Close()
}

// conn returns the connection to cluster. Dialing does not wait for the
// server, so an unreachable frontend (or one that refuses the TLS
// settings) fails the calls, not this.
func (t *TemporalAdmin) conn(cluster TemporalCluster) (*temporalConn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	key := cluster.key()
	for k, c := range t.conns {
		if k != key && now.Sub(c.lastUsed) > max(idleAfter, 2*t.timeout) {
			c.close()
			delete(t.conns, k)
		}
	}
	if c, ok := t.conns[key]; ok {
		c.lastUsed = now
		return c, nil
	}
	opts := client.Options{HostPort: cluster.Address, Logger: tlog.NewStructuredLogger(t.logger), Identity: "kinship-operator"}
	if cluster.TLS != nil {
		cfg, err := cluster.TLS.Config()
		if err != nil {
			return nil, fmt.Errorf("temporal TLS: %w", err)
		}
		opts.ConnectionOptions.TLS = cfg // gRPC takes an empty ServerName from the address's host
	}
	ns, err := client.NewNamespaceClient(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to temporal %s: %w", cluster.Address, err)
	}
	c, err := client.NewLazyClient(opts)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("connect to temporal %s: %w", cluster.Address, err)
	}
	conn := &temporalConn{namespaces: ns, client: c, lastUsed: now}
	t.conns[key] = conn
	return conn, nil
}

// DescribeNamespace reports whether the namespace exists and its
// retention.
func (t *TemporalAdmin) DescribeNamespace(ctx context.Context, cluster TemporalCluster, name string) (NamespaceState, error) {
	c, err := t.conn(cluster)
	if err != nil {
		return NamespaceState{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	res, err := c.namespaces.Describe(ctx, name)
	var notFound *serviceerror.NamespaceNotFound
	if errors.As(err, &notFound) {
		return NamespaceState{}, nil
	}
	if err != nil {
		return NamespaceState{}, fmt.Errorf("describe temporal namespace %s: %w", name, t.explain(ctx, cluster, err))
	}
	return NamespaceState{Exists: true, Retention: res.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()}, nil
}

// RegisterNamespace registers the namespace with retention.
func (t *TemporalAdmin) RegisterNamespace(ctx context.Context, cluster TemporalCluster, name string, retention time.Duration) error {
	c, err := t.conn(cluster)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	err = c.namespaces.Register(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        name,
		Description:                      "Kinship community " + name,
		WorkflowExecutionRetentionPeriod: durationpb.New(retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register temporal namespace %s: %w", name, t.explain(ctx, cluster, err))
	}
	return nil
}

// SetRetention changes the namespace's retention.
func (t *TemporalAdmin) SetRetention(ctx context.Context, cluster TemporalCluster, name string, retention time.Duration) error {
	c, err := t.conn(cluster)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	err = c.namespaces.Update(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: name,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(retention)},
	})
	if err != nil {
		return fmt.Errorf("set retention of temporal namespace %s: %w", name, t.explain(ctx, cluster, err))
	}
	return nil
}

// DeleteNamespace deletes the namespace and, asynchronously on the
// server, its workflows. The server answers a request for a missing
// namespace with InvalidArgument, so the namespace is looked up first.
func (t *TemporalAdmin) DeleteNamespace(ctx context.Context, cluster TemporalCluster, name string) error {
	st, err := t.DescribeNamespace(ctx, cluster, name)
	if err != nil {
		return err
	}
	if !st.Exists {
		return nil
	}
	c, err := t.conn(cluster)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	_, err = c.client.OperatorService().DeleteNamespace(ctx, &operatorservice.DeleteNamespaceRequest{Namespace: name})
	var notFound *serviceerror.NamespaceNotFound
	switch {
	case errors.As(err, &notFound):
		// The frontend answers from its namespace registry, which learns
		// of a new namespace only when it refreshes (every few seconds),
		// while the lookup above reads the store. A namespace that still
		// exists there is not deleted yet: report it, so that the caller
		// retries, rather than leave it behind.
		if st, derr := t.DescribeNamespace(ctx, cluster, name); derr == nil && !st.Exists {
			return nil
		}
		return fmt.Errorf("delete temporal namespace %s: the frontend does not know it yet (its namespace registry refreshes every few seconds): %w", name, err)
	case err != nil:
		return fmt.Errorf("delete temporal namespace %s: %w", name, t.explain(ctx, cluster, err))
	}
	return nil
}

// explain adds why a connection to the frontend fails to the error of a
// call that timed out or found the frontend unavailable. The SDK retries
// until the deadline and then reports only that, which hides a refused
// TLS handshake or client certificate; a probe of its own, bounded by
// probeTimeout, finds the cause.
func (t *TemporalAdmin) explain(ctx context.Context, cluster TemporalCluster, err error) error {
	var deadline *serviceerror.DeadlineExceeded
	var unavailable *serviceerror.Unavailable
	code := status.Code(err)
	if !errors.As(err, &deadline) && !errors.As(err, &unavailable) && !errors.Is(err, context.DeadlineExceeded) &&
		code != codes.DeadlineExceeded && code != codes.Unavailable {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(t.timeout, probeTimeout))
	defer cancel()
	if cause := probe(ctx, cluster); cause != nil {
		return fmt.Errorf("%w (probing %s: %w)", err, cluster.Address, cause)
	}
	return err
}

const probeTimeout = 5 * time.Second

// probe connects to the frontend as the SDK would and returns why that
// fails, or nil when it does not.
func probe(ctx context.Context, cluster TemporalCluster) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cluster.Address)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if cluster.TLS == nil {
		// A frontend that expects TLS drops an HTTP/2 preface in the clear.
		if _, err := conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")); err != nil {
			return err
		}
		if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
			return fmt.Errorf("the frontend closed a plaintext connection; does it expect TLS (spec.temporal.tls)? %w", err)
		}
		return nil
	}
	cfg, err := cluster.TLS.Config()
	if err != nil {
		return err
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(cluster.Address)
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	// With TLS 1.3 the server checks the client's certificate after the
	// client's handshake is done, and says what it found wrong in an alert.
	_ = tc.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := tc.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
		return err
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
