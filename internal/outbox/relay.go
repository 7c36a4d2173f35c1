package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/telemetry"
)

// Writer is the part of kafka-go's Writer the relay uses.
type Writer interface {
	WriteMessages(ctx context.Context, msgs ...kafkago.Message) error
}

// RelayConfig configures the relay.
type RelayConfig struct {
	Writer Writer
	Tracer trace.TracerProvider
	// Meter records the relay's metrics (see internal/telemetry's
	// catalogue): events sent, the time each write took, the backlog and
	// its oldest event's age. Nil means the database's (db.Instrument).
	Meter  metric.MeterProvider
	Logger *slog.Logger
	// BatchSize is the most events published at once; 0 means 100. Keep
	// the writer's BatchSize at least this large so one key's events go out
	// in one produce request.
	BatchSize int
	// PollInterval is how often the relay looks for events when nobody
	// calls Notify; 0 means 1 s.
	PollInterval time.Duration
	// MaxBackoff bounds the wait after a broker error; 0 means 30 s.
	MaxBackoff time.Duration
	// Retention is how long published events are kept; 0 means 7 days.
	Retention time.Duration
}

// relayLockID is the PostgreSQL advisory lock that elects one relay among
// a service's replicas, so events leave in commit order.
const relayLockID = 0x6b696e736869706f // "kinshipo"

// Run publishes pending events until ctx ends. On PostgreSQL only the
// replica holding the relay lock publishes; the others wait for it.
func (o *Outbox) Run(ctx context.Context, cfg RelayConfig) error {
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 100
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Retention == 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	r := &relay{o: o, cfg: cfg, tracer: cfg.Tracer.Tracer("github.com/kinshiphq/kinship/internal/outbox")}
	if err := r.instrument(); err != nil {
		return err
	}
	defer func() { _ = r.registration.Unregister() }()
	if o.db.Dialect != db.Postgres {
		r.loop(ctx, func(context.Context) error { return nil })
		return nil
	}
	for ctx.Err() == nil {
		held, err := r.leadWhileLocked(ctx)
		if err != nil && ctx.Err() == nil {
			cfg.Logger.WarnContext(ctx, "outbox relay lock lost", "error", err)
		}
		if !held {
			sleep(ctx, 5*time.Second)
		}
	}
	return nil
}

// leadWhileLocked takes the relay lock on a dedicated connection and relays
// until the connection fails or ctx ends. It reports whether it held it.
func (r *relay) leadWhileLocked(ctx context.Context) (bool, error) {
	conn, err := r.o.db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("open relay lock connection: %w", err)
	}
	defer conn.Close()
	var locked bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", relayLockID).Scan(&locked); err != nil {
		return false, fmt.Errorf("take relay lock: %w", err)
	}
	if !locked {
		return false, nil
	}
	r.cfg.Logger.InfoContext(ctx, "outbox relay took the lock; publishing")
	r.loop(ctx, func(ctx context.Context) error { return conn.PingContext(ctx) })
	_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", relayLockID)
	return true, nil
}

type relay struct {
	o            *Outbox
	cfg          RelayConfig
	tracer       trace.Tracer
	sent         metric.Int64Counter
	sendDuration metric.Float64Histogram
	registration metric.Registration
}

// instrument registers the relay's metrics: events sent and the time each
// write took, and the backlog and its oldest event's age, read from the
// table at each collection.
func (r *relay) instrument() error {
	mp := r.cfg.Meter
	if mp == nil {
		mp = r.o.db.MeterProvider()
	}
	meter := telemetry.Meter(mp, "github.com/kinshiphq/kinship/internal/outbox")
	var err error
	if r.sent, err = telemetry.Int64Counter(meter, telemetry.MetricMessagesSent); err != nil {
		return fmt.Errorf("outbox metrics: %w", err)
	}
	if r.sendDuration, err = telemetry.Float64Histogram(meter, telemetry.MetricSendDuration); err != nil {
		return fmt.Errorf("outbox metrics: %w", err)
	}
	pending, err := telemetry.Int64ObservableGauge(meter, telemetry.MetricOutboxPending, nil)
	if err != nil {
		return fmt.Errorf("outbox metrics: %w", err)
	}
	oldest, err := telemetry.Float64ObservableGauge(meter, telemetry.MetricOutboxOldestAge, nil)
	if err != nil {
		return fmt.Errorf("outbox metrics: %w", err)
	}
	r.registration, err = meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		n, age, err := r.o.Backlog(ctx)
		if err != nil {
			return err
		}
		o.ObserveInt64(pending, int64(n))
		o.ObserveFloat64(oldest, age.Seconds())
		return nil
	}, pending, oldest)
	if err != nil {
		return fmt.Errorf("outbox metrics: %w", err)
	}
	return nil
}

// loop publishes until ctx ends or stillLeader fails.
func (r *relay) loop(ctx context.Context, stillLeader func(context.Context) error) {
	backoff := 100 * time.Millisecond
	lastPurge := time.Time{}
	for ctx.Err() == nil {
		if err := stillLeader(ctx); err != nil {
			return
		}
		n, err := r.publishBatch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.cfg.Logger.WarnContext(ctx, "outbox publish failed; backing off", "error", err, "retry_in_ms", backoff.Milliseconds())
			sleep(ctx, backoff)
			backoff = min(backoff*2, r.cfg.MaxBackoff)
			continue
		}
		backoff = 100 * time.Millisecond
		if time.Since(lastPurge) > time.Hour {
			if err := r.purge(ctx); err != nil {
				r.cfg.Logger.WarnContext(ctx, "outbox purge failed", "error", err)
			}
			lastPurge = time.Now()
		}
		if n == r.cfg.BatchSize {
			continue // more are waiting
		}
		select {
		case <-ctx.Done():
		case <-r.o.wake:
		case <-time.After(r.cfg.PollInterval):
		}
	}
}

type pending struct {
	seq   int64
	event kafka.Event
	trace map[string]string
}

// publishBatch publishes up to BatchSize pending events in order and marks
// those the broker accepted.
func (r *relay) publishBatch(ctx context.Context) (int, error) {
	batch, err := r.fetch(ctx)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	msgs := make([]kafkago.Message, len(batch))
	spans := make([]trace.Span, len(batch))
	for i, p := range batch {
		parent := r.o.propagator.Extract(ctx, propagation.MapCarrier(p.trace))
		spanCtx, span := r.tracer.Start(parent, "publish "+p.event.Topic, trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(
				attribute.String("messaging.system", "kafka"),
				attribute.String("messaging.operation.type", "send"),
				attribute.String("messaging.operation.name", "send"),
				attribute.String("messaging.destination.name", p.event.Topic),
				attribute.String("messaging.message.id", p.event.ID),
				attribute.String("cloudevents.event_type", p.event.Type),
			))
		spans[i] = span
		msgs[i] = p.event.Message()
		kafka.Inject(spanCtx, r.o.propagator, &msgs[i].Headers)
	}
	start := time.Now()
	werr := r.cfg.Writer.WriteMessages(ctx, msgs...)
	r.measure(ctx, batch, start, werr)
	failed := make([]error, len(batch))
	var perMessage kafkago.WriteErrors
	switch {
	case werr == nil:
	case errors.As(werr, &perMessage) && len(perMessage) == len(batch):
		copy(failed, perMessage)
	default:
		for i := range failed {
			failed[i] = werr
		}
	}
	var published []int64
	for i, span := range spans {
		if failed[i] != nil {
			span.RecordError(failed[i])
			span.SetStatus(codes.Error, "publish failed")
		} else {
			published = append(published, batch[i].seq)
		}
		span.End()
	}
	if err := r.mark(ctx, batch, published, failed); err != nil {
		return 0, err
	}
	if werr != nil {
		return len(published), fmt.Errorf("publish %d of %d outbox events: %w", len(batch)-len(published), len(batch), werr)
	}
	return len(batch), nil
}

// measure records one write of batch: its duration, and each event as
// sent or, with error.type, failed.
func (r *relay) measure(ctx context.Context, batch []pending, start time.Time, werr error) {
	ctx = context.WithoutCancel(ctx)
	base := []attribute.KeyValue{attribute.String("messaging.system", "kafka"), attribute.String("messaging.operation.name", "send")}
	attrs := base
	var perMessage kafkago.WriteErrors
	if werr != nil && !errors.As(werr, &perMessage) {
		attrs = append(attrs, attribute.String("error.type", "write_failed"))
	}
	r.sendDuration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(attrs...))
	type key struct {
		topic  string
		failed bool
	}
	counts := map[key]int64{}
	for i, p := range batch {
		failed := werr != nil && (len(perMessage) != len(batch) || perMessage[i] != nil)
		counts[key{p.event.Topic, failed}]++
	}
	for k, n := range counts {
		a := append(append([]attribute.KeyValue(nil), base...), attribute.String("messaging.destination.name", k.topic))
		if k.failed {
			a = append(a, attribute.String("error.type", "write_failed"))
		}
		r.sent.Add(ctx, n, metric.WithAttributes(a...))
	}
}

func (r *relay) fetch(ctx context.Context) ([]pending, error) {
	rows, err := r.o.db.QueryContext(ctx, r.o.db.Rebind(`SELECT seq, event_id, topic, event_key, event_type, source, subject,
		content_type, payload, trace, occurred_at FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT ?`), r.cfg.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("read pending outbox events: %w", err)
	}
	defer rows.Close()
	var out []pending
	for rows.Next() {
		var p pending
		var traceJSON string
		e := &p.event
		if err := rows.Scan(&p.seq, &e.ID, &e.Topic, &e.Key, &e.Type, &e.Source, &e.Subject, &e.ContentType, &e.Data, &traceJSON, &e.Time); err != nil {
			return nil, fmt.Errorf("read pending outbox event: %w", err)
		}
		if err := json.Unmarshal([]byte(traceJSON), &p.trace); err != nil {
			p.trace = nil // a lost trace context must not stop the event
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pending outbox events: %w", err)
	}
	return out, nil
}

// mark records published events and counts failed attempts, in one
// transaction; a stopping relay still records what it published.
func (r *relay) mark(ctx context.Context, batch []pending, published []int64, failed []error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return r.o.db.InTx(ctx, func(tx *sql.Tx) error {
		if len(published) > 0 {
			placeholders := strings.TrimSuffix(strings.Repeat("?,", len(published)), ",")
			args := []any{time.Now().UTC()}
			for _, seq := range published {
				args = append(args, seq)
			}
			if _, err := tx.ExecContext(ctx, r.o.db.Rebind("UPDATE outbox SET published_at = ? WHERE seq IN ("+placeholders+")"), args...); err != nil {
				return fmt.Errorf("mark outbox events published: %w", err)
			}
		}
		for i, p := range batch {
			if failed[i] == nil {
				continue
			}
			if _, err := tx.ExecContext(ctx, r.o.db.Rebind("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?"),
				truncate(failed[i].Error(), 500), p.seq); err != nil {
				return fmt.Errorf("record outbox publish failure: %w", err)
			}
		}
		return nil
	})
}

func (r *relay) purge(ctx context.Context) error {
	_, err := r.o.db.ExecContext(ctx, r.o.db.Rebind("DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?"),
		time.Now().Add(-r.cfg.Retention).UTC())
	if err != nil {
		return fmt.Errorf("purge published outbox events: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
