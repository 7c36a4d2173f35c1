// Package store keeps the members service's data: communities, members and
// their interests. Every write that changes a member appends its event to
// the outbox in the same transaction.
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

// Migrations creates the members schema.
func Migrations() db.Migrations { return db.EmbeddedMigrations("members", migrations) }

// Outbox is where the store appends events.
type Outbox interface {
	Append(ctx context.Context, tx *sql.Tx, e kafka.Event) error
	Notify()
}

// Auditor records an action in the audit log inside the action's
// transaction (audit.Log, or a wrapper recording public callers as
// anonymous).
type Auditor interface {
	Record(ctx context.Context, tx *sql.Tx, community, action, targetType, targetID string) error
}

// Store is the members repository.
type Store struct {
	db     *db.DB
	outbox Outbox
	// levelEvents builds the events of activities the store records on
	// its own (WithLevelEvents).
	levelEvents LevelEvents
	// joinBatch is the most joins one transaction carries (WithJoinBatch),
	// and joins the queue of those waiting for it.
	joinBatch int
	joins     joinQueue
}

// New returns a store over d that appends events to ob.
func New(d *db.DB, ob Outbox) *Store {
	return &Store{db: d, outbox: ob, joinBatch: defaultJoinBatch}
}
