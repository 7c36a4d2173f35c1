// Package store keeps the partners service's data: partners and their
// status history, contacts and their consent ledger, agreements and their
// renewals and expiry notices, contributions and interactions. Every write
// that others must hear of appends its events to the outbox, and every
// change its audit entry, in the same transaction. Every query that
// reaches a row by id names the community too (rows without a community
// of their own through their parent's): another community's id is not
// found.
package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/partners/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrations creates the partners schema.
func Migrations() db.Migrations { return db.EmbeddedMigrations("partners", migrations) }

// Outbox is where the store appends events.
type Outbox interface {
	Append(ctx context.Context, tx *sql.Tx, e kafka.Event) error
	Notify()
}

// Auditor records a change in the audit log, in the change's
// transaction, for the caller in ctx (an *audit.Log).
type Auditor interface {
	Record(ctx context.Context, tx *sql.Tx, community, action, targetType, targetID string) error
}

// Store is the partners repository.
type Store struct {
	db     *db.DB
	outbox Outbox
	audit  Auditor
}

// New returns a store over d that appends events to ob and records every
// change in log, each in the change's transaction.
func New(d *db.DB, ob Outbox, log Auditor) *Store {
	return &Store{db: d, outbox: ob, audit: log}
}

// querier is what reads need from a pool or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// EnsureCommunities records the communities this instance serves; existing
// ones are left as they are.
func (s *Store) EnsureCommunities(ctx context.Context, slugs ...string) error {
	now := time.Now().UTC()
	for _, slug := range slugs {
		_, err := s.db.ExecContext(ctx, s.db.Rebind(
			"INSERT INTO communities (slug, created_at) VALUES (?, ?) ON CONFLICT (slug) DO NOTHING"), slug, now)
		if err != nil {
			return fmt.Errorf("ensure community %s: %w", slug, err)
		}
	}
	return nil
}

// CommunityExists reports whether the instance serves community.
func (s *Store) CommunityExists(ctx context.Context, community string) (bool, error) {
	return s.communityExists(ctx, s.db, community)
}

func (s *Store) communityExists(ctx context.Context, q querier, slug string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, s.db.Rebind("SELECT count(*) FROM communities WHERE slug = ?"), slug).Scan(&n); err != nil {
		return false, fmt.Errorf("look up community %s: %w", slug, err)
	}
	return n == 1, nil
}

// write runs fn in a transaction and appends the events it returns there;
// the relay is woken once the transaction committed.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) ([]kafka.Event, error)) error {
	var appended bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		events, err := fn(tx)
		if err != nil {
			return err
		}
		for _, e := range events {
			if err := s.outbox.Append(ctx, tx, e); err != nil {
				return err
			}
		}
		appended = len(events) > 0
		return nil
	})
	if err != nil {
		return err
	}
	if appended {
		s.outbox.Notify()
	}
	return nil
}

// record writes an audit entry of community in tx.
func (s *Store) record(ctx context.Context, tx *sql.Tx, community, action, targetType, targetID string) error {
	return s.audit.Record(ctx, tx, community, action, targetType, targetID)
}

// dateArg is d as a query argument: NULL for no date.
func dateArg(d domain.Date) any {
	if d.IsZero() {
		return nil
	}
	return d.String()
}

// dateCol scans a date column: text on SQLite, a DATE (time.Time) on
// PostgreSQL, NULL for no date.
type dateCol struct{ d *domain.Date }

func (c dateCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.d = domain.Date{}
	case time.Time:
		*c.d = domain.DateOf(time.Date(v.Year(), v.Month(), v.Day(), 0, 0, 0, 0, time.UTC))
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("scan date: unexpected %T", src)
	}
	return nil
}

func (c dateCol) parse(raw string) error {
	// SQLite may hand back a timestamp-shaped text; the day is its first ten characters.
	if len(raw) > len(domain.DateLayout) {
		raw = raw[:len(domain.DateLayout)]
	}
	d, ferr := domain.ParseDate("date", raw)
	if ferr != nil {
		return fmt.Errorf("scan date %q: %s", raw, ferr.Reason)
	}
	*c.d = d
	return nil
}

// nullTime scans a nullable timestamp into t, UTC.
type nullTime struct{ t *time.Time }

func (n nullTime) Scan(src any) error {
	var nt sql.NullTime
	if err := nt.Scan(src); err != nil {
		return err
	}
	if nt.Valid {
		*n.t = nt.Time.UTC()
	} else {
		*n.t = time.Time{}
	}
	return nil
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// scanAll reads every row of rows with scan.
func scanAll[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// prefixed qualifies every column of a column list with prefix, such as
// "a.".
func prefixed(prefix, list string) string {
	cols := strings.Split(list, ",")
	for i, c := range cols {
		cols[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
