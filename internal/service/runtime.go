package service

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/telemetry"
)

// RuntimeConfig says what a service runs on.
type RuntimeConfig struct {
	Name          string
	DatabaseURL   string
	Migrations    []db.Migrations
	KafkaBrokers  []string
	KafkaSecurity kafka.Security
	// Listener, when set, is served instead of listening on HTTPAddr.
	Listener        net.Listener
	HTTPAddr        string
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	Tracer          trace.TracerProvider
	// Meter records the service's metrics — its database pool and
	// transactions, outbox, inbox, feeds and HTTP requests — and, when it
	// is a component's meter provider from internal/telemetry, is served
	// as Prometheus text on GET /metrics. Nil means the one paired with
	// Tracer (telemetry.MeterProviderOf).
	Meter metric.MeterProvider
}

// Runtime is what every service runs on: its migrated database, its
// outbox with the Kafka writer that relays it (and takes dead letters),
// and its HTTP server with a readiness check on the database.
type Runtime struct {
	DB     *db.DB
	Outbox *outbox.Outbox
	Writer *kafkago.Writer
	Server *serve.Server
	cfg    RuntimeConfig
	ln     net.Listener
}

// NewRuntime opens and migrates the database and listens; Close releases
// what it holds.
func NewRuntime(ctx context.Context, cfg RuntimeConfig) (*Runtime, error) {
	if cfg.Meter == nil {
		cfg.Meter = telemetry.MeterProviderOf(cfg.Tracer)
	}
	d, err := OpenDatabase(ctx, cfg.Name, cfg.DatabaseURL, cfg.Logger, cfg.Migrations...)
	if err != nil {
		return nil, err
	}
	if err := d.Instrument(cfg.Meter, cfg.Name); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("%s: database metrics: %w", cfg.Name, err)
	}
	ln, err := serve.Listen(cfg.Listener, cfg.HTTPAddr)
	if err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("%s: %w", cfg.Name, err)
	}
	return &Runtime{
		DB:     d,
		Outbox: outbox.New(d, telemetry.Propagator()),
		Writer: kafka.NewWriter(kafka.WriterConfig{Brokers: cfg.KafkaBrokers, Security: cfg.KafkaSecurity}),
		Server: serve.New(serve.Options{Logger: cfg.Logger, ShutdownTimeout: cfg.ShutdownTimeout, Meter: cfg.Meter,
			Checks: map[string]serve.Check{"database": d.PingContext}}),
		cfg: cfg,
		ln:  ln,
	}, nil
}

// consumers is the consumer configuration of the service's feeds: its
// brokers and security, dead letters through its writer.
func (r *Runtime) consumers() kafka.ConsumerConfig {
	return kafka.ConsumerConfig{Brokers: r.cfg.KafkaBrokers, Security: r.cfg.KafkaSecurity, DeadLetters: r.Writer,
		Tracer: r.cfg.Tracer, Meter: r.cfg.Meter, Logger: r.cfg.Logger}
}

// Run serves HTTP, relays the outbox and runs each of work until ctx ends
// or one of them fails.
func (r *Runtime) Run(ctx context.Context, work ...func(context.Context) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.Server.Serve(gctx, r.ln) })
	g.Go(func() error {
		return r.Outbox.Run(gctx, outbox.RelayConfig{Writer: r.Writer, Tracer: r.cfg.Tracer, Meter: r.cfg.Meter, Logger: r.cfg.Logger})
	})
	for _, w := range work {
		g.Go(func() error { return w(gctx) })
	}
	return g.Wait()
}

// Consume is work that runs feed f for the service's communities.
func (r *Runtime) Consume(communities []string, f Feed) func(context.Context) error {
	return func(ctx context.Context) error { return consume(ctx, r.consumers(), communities, f) }
}

// Every is work that calls fn every interval (and at the start when
// atStart is set).
func (r *Runtime) Every(interval time.Duration, atStart bool, fn func(context.Context)) func(context.Context) error {
	return func(ctx context.Context) error { every(ctx, interval, atStart, fn); return nil }
}

// Close releases the writer, the listener and the database.
func (r *Runtime) Close() {
	_ = r.Writer.Close()
	_ = r.ln.Close()
	_ = r.DB.Close()
}
