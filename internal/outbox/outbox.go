// Package outbox is the transactional outbox: a service appends the events
// of a write to its own database in the write's transaction, and the relay
// publishes them to Kafka afterwards, in order, marking each published. A
// crash between publish and mark publishes again (at-least-once); consumers
// dedupe by event id.
package outbox

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
)

//go:embed migrations
var migrations embed.FS

// Migrations creates the outbox table; run it with the service's own.
func Migrations() db.Migrations { return db.EmbeddedMigrations("outbox", migrations) }

// Outbox appends events inside transactions and relays them to Kafka.
type Outbox struct {
	db         *db.DB
	propagator propagation.TextMapPropagator
	wake       chan struct{}
}

// New returns the outbox of database d.
func New(d *db.DB, propagator propagation.TextMapPropagator) *Outbox {
	return &Outbox{db: d, propagator: propagator, wake: make(chan struct{}, 1)}
}

// Append stores e in tx. The trace context of ctx is kept with it, so the
// publish continues the trace of the write that caused it.
func (o *Outbox) Append(ctx context.Context, tx *sql.Tx, e kafka.Event) error {
	if err := check(e); err != nil {
		return err
	}
	traceJSON, err := o.trace(ctx)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, o.db.Rebind(insertHead+`
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), row(e, traceJSON)...)
	if err != nil {
		return fmt.Errorf("append %s %s to outbox: %w", e.Type, e.ID, err)
	}
	return nil
}

// Traced is an event with the context of the write it belongs to; its
// publish continues that context's trace.
type Traced struct {
	Ctx   context.Context
	Event kafka.Event
}

// AppendAll stores events in tx, in order, as Append does one by one but
// in as few statements as the engine allows (see db.InsertRows), each
// with the trace context of ctx. When one event is incomplete none is
// stored. Call Notify once after the commit.
func (o *Outbox) AppendAll(ctx context.Context, tx *sql.Tx, events []kafka.Event) error {
	traced := make([]Traced, len(events))
	for i, e := range events {
		traced[i] = Traced{Ctx: ctx, Event: e}
	}
	return o.AppendTraced(ctx, tx, traced)
}

// AppendTraced is AppendAll for the events of several writes that share
// a transaction (a group commit): each event keeps the trace context of
// its own Ctx (of ctx when nil).
func (o *Outbox) AppendTraced(ctx context.Context, tx *sql.Tx, events []Traced) error {
	rows := make([][]any, len(events))
	for i, t := range events {
		if err := check(t.Event); err != nil {
			return err
		}
		c := t.Ctx
		if c == nil {
			c = ctx
		}
		traceJSON, err := o.trace(c)
		if err != nil {
			return err
		}
		rows[i] = row(t.Event, traceJSON)
	}
	if _, err := o.db.InsertRows(ctx, tx, insertHead, "", rows); err != nil {
		return fmt.Errorf("append %d events to outbox: %w", len(events), err)
	}
	return nil
}

const insertHead = `INSERT INTO outbox
		(event_id, topic, event_key, event_type, source, subject, content_type, payload, trace, occurred_at)`

// check refuses an event the relay could not publish.
func check(e kafka.Event) error {
	if e.ID == "" || e.Topic == "" || e.Type == "" || e.Source == "" || e.ContentType == "" {
		return errors.New("append to outbox: event lacks id, topic, type, source or content type")
	}
	return nil
}

// trace encodes the trace context of ctx as it is stored with an event.
func (o *Outbox) trace(ctx context.Context) (string, error) {
	carrier := propagation.MapCarrier{}
	o.propagator.Inject(ctx, carrier)
	traceJSON, err := json.Marshal(carrier)
	if err != nil {
		return "", fmt.Errorf("append to outbox: encode trace context: %w", err)
	}
	return string(traceJSON), nil
}

// row is the values of e's outbox row, in insertHead's order.
func row(e kafka.Event, traceJSON string) []any {
	occurred := e.Time
	if occurred.IsZero() {
		occurred = time.Now()
	}
	return []any{e.ID, e.Topic, e.Key, e.Type, e.Source, e.Subject, e.ContentType, e.Data, traceJSON, occurred.UTC()}
}

// Notify wakes the relay; call it after committing a transaction that
// appended events. Without it the relay still finds them at its next poll.
func (o *Outbox) Notify() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Backlog counts events not yet published and says how long the oldest
// has waited (0 when none waits).
func (o *Outbox) Backlog(ctx context.Context) (int, time.Duration, error) {
	n, err := o.Pending(ctx)
	if err != nil || n == 0 {
		return n, 0, err
	}
	var oldest time.Time
	err = o.db.QueryRowContext(ctx, "SELECT occurred_at FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1").Scan(&oldest)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil // published meanwhile
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read the oldest pending outbox event: %w", err)
	}
	return n, max(time.Since(oldest), 0), nil
}

// Pending counts events not yet published.
func (o *Outbox) Pending(ctx context.Context) (int, error) {
	var n int
	if err := o.db.QueryRowContext(ctx, "SELECT count(*) FROM outbox WHERE published_at IS NULL").Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending outbox events: %w", err)
	}
	return n, nil
}
