// Package inbox makes event handlers idempotent: a handler claims an event
// id in the same transaction as its effects, so a redelivered event finds
// its id taken and has no second effect.
package inbox

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/telemetry"
)

//go:embed migrations
var migrations embed.FS

// Migrations creates the inbox table; run it with the service's own.
func Migrations() db.Migrations { return db.EmbeddedMigrations("inbox", migrations) }

// Inbox records which events each consumer has handled.
type Inbox struct {
	db         *db.DB
	duplicates metric.Int64Counter
}

// New returns the inbox of database d. It counts the duplicates it drops
// (kinship.inbox.duplicates) with d's meter provider (db.Instrument).
func New(d *db.DB) *Inbox {
	meter := telemetry.Meter(d.MeterProvider(), "github.com/kinshiphq/kinship/internal/inbox")
	// The name is the catalogue's: an error would be a programming
	// mistake, caught by the package's tests.
	duplicates, _ := telemetry.Int64Counter(meter, telemetry.MetricInboxDuplicates)
	return &Inbox{db: d, duplicates: duplicates}
}

// Claim records that consumer handles eventID in tx. It returns false when
// the event was already handled: the caller must then skip its effects (and
// may commit or roll back tx; either leaves the first handling in place).
func (in *Inbox) Claim(ctx context.Context, tx *sql.Tx, consumer, eventID string) (bool, error) {
	res, err := tx.ExecContext(ctx, in.db.Rebind(
		"INSERT INTO inbox (consumer, event_id, handled_at) VALUES (?, ?, ?) ON CONFLICT (consumer, event_id) DO NOTHING"),
		consumer, eventID, time.Now().UTC())
	if err != nil {
		return false, fmt.Errorf("claim event %s for %s: %w", eventID, consumer, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim event %s for %s: %w", eventID, consumer, err)
	}
	if n != 1 {
		in.duplicates.Add(context.WithoutCancel(ctx), 1, metric.WithAttributes(attribute.String(telemetry.AttrInbox, consumer)))
	}
	return n == 1, nil
}

// Handle runs effect in a transaction that first claims eventID for
// consumer. It reports whether effect ran; a duplicate is not an error.
func (in *Inbox) Handle(ctx context.Context, consumer, eventID string, effect func(tx *sql.Tx) error) (bool, error) {
	ran := false
	err := in.db.InTx(ctx, func(tx *sql.Tx) error {
		first, err := in.Claim(ctx, tx, consumer, eventID)
		if err != nil || !first {
			return err
		}
		ran = true
		return effect(tx)
	})
	if err != nil {
		return false, err
	}
	return ran, nil
}

// Purge forgets events handled before cutoff; keep them longer than any
// redelivery can arrive (the topic's retention).
func (in *Inbox) Purge(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := in.db.ExecContext(ctx, in.db.Rebind("DELETE FROM inbox WHERE handled_at < ?"), cutoff.UTC())
	if err != nil {
		return 0, fmt.Errorf("purge inbox: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
