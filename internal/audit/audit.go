// Package audit records privileged actions — role changes, exports,
// erasures, announcements, key creation — with who did what to which ids,
// in the same transaction as the action. Entries hold ids, never personal
// data.
package audit

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
)

//go:embed migrations
var migrations embed.FS

// Migrations creates the audit log; run it with the service's own.
func Migrations() db.Migrations { return db.EmbeddedMigrations("audit", migrations) }

// Entry is one privileged action.
type Entry struct {
	ID         string
	Community  string
	OccurredAt time.Time
	ActorKind  string
	ActorID    string
	// Action names what happened, such as "api_key.created".
	Action     string
	TargetType string
	TargetID   string
}

// Log writes and reads a service's audit log.
type Log struct {
	db *db.DB
}

// New returns the audit log of database d.
func New(d *db.DB) *Log { return &Log{db: d} }

// Record appends an entry for the caller of ctx in tx.
func (l *Log) Record(ctx context.Context, tx *sql.Tx, community, action, targetType, targetID string) error {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return errors.New("audit: privileged action without an authenticated caller")
	}
	return l.insert(ctx, tx, community, string(p.Kind), p.Subject, action, targetType, targetID)
}

func (l *Log) insert(ctx context.Context, tx *sql.Tx, community, actorKind, actorID, action, targetType, targetID string) error {
	row, err := entryRow(community, actorKind, actorID, action, targetType, targetID)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, l.db.Rebind(insertHead+" VALUES (?, ?, ?, ?, ?, ?, ?, ?)"), row...)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

const insertHead = `INSERT INTO audit_log
		(id, community, occurred_at, actor_kind, actor_id, action, target_type, target_id)`

// entryRow is the values of a new entry's row, in insertHead's order.
func entryRow(community, actorKind, actorID, action, targetType, targetID string) ([]any, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	return []any{id.String(), community, time.Now().UTC().Truncate(time.Microsecond), actorKind, actorID, action, targetType, targetID}, nil
}

// Item is one action for RecordAll: what happened to which id of which
// community, done by the caller of Ctx (of RecordAll's ctx when nil).
type Item struct {
	Ctx        context.Context
	Community  string
	Action     string
	TargetType string
	TargetID   string
}

// RecordAll appends an entry for each item in tx, in order, as Record
// does one by one but in as few statements as the engine allows (see
// db.InsertRows): each for the caller of its own context, so the actions
// of several callers sharing a transaction (a group commit) are each
// recorded for their own. When an item has no authenticated caller none
// is recorded and RecordAll fails, as Record does.
func (l *Log) RecordAll(ctx context.Context, tx *sql.Tx, items ...Item) error {
	return l.recordAll(ctx, tx, false, items)
}

// RecordAllAnonymous is RecordAll for public calls, as RecordAnonymous is
// Record's: an item whose context (RecordAllAnonymous's ctx when nil) has
// an authenticated caller is recorded for them, any other as anonymous
// (KindAnonymous, with no id) — so the public calls of a group commit are
// recorded in as few statements as their team's.
func (l *Log) RecordAllAnonymous(ctx context.Context, tx *sql.Tx, items ...Item) error {
	return l.recordAll(ctx, tx, true, items)
}

// recordAll appends an entry for each item in tx, in order; an item
// without an authenticated caller is recorded as anonymous when
// anonymous is set, and fails every item otherwise.
func (l *Log) recordAll(ctx context.Context, tx *sql.Tx, anonymous bool, items []Item) error {
	rows := make([][]any, len(items))
	for i, it := range items {
		c := it.Ctx
		if c == nil {
			c = ctx
		}
		kind, subject := KindAnonymous, ""
		if p, ok := auth.FromContext(c); ok {
			kind, subject = string(p.Kind), p.Subject
		} else if !anonymous {
			return fmt.Errorf("audit %s: privileged action without an authenticated caller", it.Action)
		}
		row, err := entryRow(it.Community, kind, subject, it.Action, it.TargetType, it.TargetID)
		if err != nil {
			return err
		}
		rows[i] = row
	}
	if _, err := l.db.InsertRows(ctx, tx, insertHead, "", rows); err != nil {
		return fmt.Errorf("audit %d actions: %w", len(items), err)
	}
	return nil
}

// KindAnonymous is the actor kind of a public call made without
// credentials, such as a join or a one-click unsubscribe.
const KindAnonymous = "anonymous"

// RecordAnonymous appends an entry for a public call made without
// credentials (the actor is "anonymous", with no id), in tx. An
// authenticated caller is recorded as themselves.
func (l *Log) RecordAnonymous(ctx context.Context, tx *sql.Tx, community, action, targetType, targetID string) error {
	if _, ok := auth.FromContext(ctx); ok {
		return l.Record(ctx, tx, community, action, targetType, targetID)
	}
	return l.insert(ctx, tx, community, KindAnonymous, "", action, targetType, targetID)
}

// RecordNow records an action that changes no data of its own, such as an
// export, in a transaction of its own.
func (l *Log) RecordNow(ctx context.Context, community, action, targetType, targetID string) error {
	return l.db.InTx(ctx, func(tx *sql.Tx) error { return l.Record(ctx, tx, community, action, targetType, targetID) })
}

// List returns up to limit entries of community older than beforeID
// (empty for the newest), newest first.
func (l *Log) List(ctx context.Context, community, beforeID string, limit int) ([]Entry, error) {
	return l.ListWindow(ctx, community, beforeID, time.Time{}, time.Time{}, limit)
}

// ListWindow is List restricted to entries at or after since and before
// until; a zero time leaves that side open.
func (l *Log) ListWindow(ctx context.Context, community, beforeID string, since, until time.Time, limit int) ([]Entry, error) {
	q := "SELECT id, community, occurred_at, actor_kind, actor_id, action, target_type, target_id FROM audit_log WHERE community = ?"
	args := []any{community}
	if beforeID != "" {
		q += " AND id < ?"
		args = append(args, beforeID)
	}
	if !since.IsZero() {
		q += " AND occurred_at >= ?"
		args = append(args, since.UTC())
	}
	if !until.IsZero() {
		q += " AND occurred_at < ?"
		args = append(args, until.UTC())
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := l.db.QueryContext(ctx, l.db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.ID, &e.Community, &e.OccurredAt, &e.ActorKind, &e.ActorID, &e.Action, &e.TargetType, &e.TargetID); err != nil {
			return nil, fmt.Errorf("list audit entries: %w", err)
		}
		e.OccurredAt = e.OccurredAt.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
