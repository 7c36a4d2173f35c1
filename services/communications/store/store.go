// Package store keeps the communications service's delivery log. The
// outcome of a delivery is recorded together with its event.
package store

import (
	"context"
	"database/sql"
	"embed"

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
