package external

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TemporalAdmin administers namespaces with the Temporal SDK: the namespace
// client registers, describes and updates them, the operator service
// deletes them. It keeps one connection per frontend address.
type TemporalAdmin struct {
	logger  *slog.Logger
	timeout time.Duration

	mu    sync.Mutex
	conns map[string]*temporalConn
}

type temporalConn struct {
	namespaces client.NamespaceClient
	client     client.Client
}

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
	for addr, c := range t.conns {
		c.namespaces.Close()
		c.client.Close()
		delete(t.conns, addr)
	}
}

// conn returns the connection to address. Dialing does not wait for the
// server, so an unreachable frontend fails the calls, not this.
func (t *TemporalAdmin) conn(address string) (*temporalConn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.conns[address]; ok {
		return c, nil
	}
	opts := client.Options{HostPort: address, Logger: tlog.NewStructuredLogger(t.logger), Identity: "kinship-operator"}
	ns, err := client.NewNamespaceClient(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to temporal %s: %w", address, err)
	}
	c, err := client.NewLazyClient(opts)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("connect to temporal %s: %w", address, err)
	}
	conn := &temporalConn{namespaces: ns, client: c}
	t.conns[address] = conn
	return conn, nil
}

// DescribeNamespace reports whether the namespace exists and its
// retention.
func (t *TemporalAdmin) DescribeNamespace(ctx context.Context, address, name string) (NamespaceState, error) {
	c, err := t.conn(address)
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
		return NamespaceState{}, fmt.Errorf("describe temporal namespace %s: %w", name, err)
	}
	return NamespaceState{Exists: true, Retention: res.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()}, nil
}

// RegisterNamespace registers the namespace with retention.
func (t *TemporalAdmin) RegisterNamespace(ctx context.Context, address, name string, retention time.Duration) error {
	c, err := t.conn(address)
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
		return fmt.Errorf("register temporal namespace %s: %w", name, err)
	}
	return nil
}

// SetRetention changes the namespace's retention.
func (t *TemporalAdmin) SetRetention(ctx context.Context, address, name string, retention time.Duration) error {
	c, err := t.conn(address)
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
		return fmt.Errorf("set retention of temporal namespace %s: %w", name, err)
	}
	return nil
}

// DeleteNamespace deletes the namespace and, asynchronously on the
// server, its workflows. The server answers a request for a missing
// namespace with InvalidArgument, so the namespace is looked up first.
func (t *TemporalAdmin) DeleteNamespace(ctx context.Context, address, name string) error {
	st, err := t.DescribeNamespace(ctx, address, name)
	if err != nil {
		return err
	}
	if !st.Exists {
		return nil
	}
	c, err := t.conn(address)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	_, err = c.client.OperatorService().DeleteNamespace(ctx, &operatorservice.DeleteNamespaceRequest{Namespace: name})
	var notFound *serviceerror.NamespaceNotFound
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("delete temporal namespace %s: %w", name, err)
	}
	return nil
}
