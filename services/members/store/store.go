// Package store keeps the members service's data: communities, members and
// their interests. Every write that changes a member appends its event to
// the outbox in the same transaction.
package store

import (
	"context"
	"database/sql"
	"embed"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
)

//go:embed migrations
var migrations embed.FS

// Migrations creates the members schema.
func Migrations() db.Migrations { return db.EmbeddedMigrations("members", migrations) }

// Outbox is where the store appends events (outbox.Outbox).
type Outbox interface {
	Append(ctx context.Context, tx *sql.Tx, e kafka.Event) error
	// AppendTraced appends the events of several writes sharing tx (a
	// group commit) in as few statements as the engine allows, each with
	// the trace of its own write.
	AppendTraced(ctx context.Context, tx *sql.Tx, events []outbox.Traced) error
	Notify()
}

// Auditor records an action in the audit log inside the action's
// transaction (audit.Log, or a wrapper recording public callers as
// anonymous).
type Auditor interface {
	Record(ctx context.Context, tx *sql.Tx, community, action, targetType, targetID string) error
}

// JoinAuditor is an Auditor that also records the actions of several
// callers sharing a transaction (a group commit of joins) in as few
// statements as the engine allows, each for its own caller (audit.Log's
// RecordAll, or RecordAllAnonymous for public callers).
type JoinAuditor interface {
	Auditor
	RecordAll(ctx context.Context, tx *sql.Tx, items ...audit.Item) error
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
	// communities are those found to exist (communityExists).
	communities knownCommunities
}

// New returns a store over d that appends events to ob.
func New(d *db.DB, ob Outbox) *Store {
	return &Store{db: d, outbox: ob, joinBatch: defaultJoinBatch}
}
