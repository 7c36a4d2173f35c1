// Package store keeps the communications service's data: the delivery log,
// the recipients projection, templates, announcements, webhooks and the
// suppression list. The outcome of a delivery is recorded together with its
// event.
package store

import (
	"context"
	"database/sql"
	"embed"
	"strings"

	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
)

//go:embed migrations
var migrations embed.FS

// Migrations creates the communications schema.
func Migrations() db.Migrations { return db.EmbeddedMigrations("communications", migrations) }

// Outbox is where the store appends events.
type Outbox interface {
	Append(ctx context.Context, tx *sql.Tx, e kafka.Event) error
	// AppendAll appends several events with as few statements as it can.
	AppendAll(ctx context.Context, tx *sql.Tx, events []kafka.Event) error
	Notify()
}

// Store is the communications repository.
type Store struct {
	db     *db.DB
	outbox Outbox
}

// New returns a store over d that appends events to ob.
func New(d *db.DB, ob Outbox) *Store {
	return &Store{db: d, outbox: ob}
}

// Notify wakes the outbox relay after a consumer's transaction queued
// events with QueueMessage.
func (s *Store) Notify() { s.outbox.Notify() }

// DB is the store's database, for the inbox of its consumers.
func (s *Store) DB() *db.DB { return s.db }

// querier is what queries need from a pool or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// Writers is how many transactions writing at once make sense: one on
// SQLite, which has a single writer; a few on PostgreSQL.
func (s *Store) Writers() int {
	if s.db.Dialect == "postgres" {
		return 4
	}
	return 1
}
