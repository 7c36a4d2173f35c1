// Package store keeps the insights service's facts — keyed by what they
// are about, so the same fact arriving twice counts once — and the daily
// buckets computed from them, in SQLite or PostgreSQL. Every change to a
// fact applies the difference it makes to the buckets in the same
// transaction; Recompute derives every bucket from the facts at once.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/db"
)

//go:embed migrations
var migrations embed.FS

// Migrations are the insights service's schema.
func Migrations() db.Migrations { return db.EmbeddedMigrations("insights", migrations) }

// Store reads and writes one instance's facts, buckets and goals.
type Store struct {
	db    *db.DB
	zones map[string]*time.Location
}

// ErrUnknownCommunity is returned for a community the instance does not
// serve.
var ErrUnknownCommunity = errors.New("community not served here")

// New returns the store of d for communities in their time zones.
func New(d *db.DB, zones map[string]*time.Location) *Store {
	return &Store{db: d, zones: zones}
}

// DB is the store's database, for transactions spanning the inbox.
func (s *Store) DB() *db.DB { return s.db }

// Zone is community's time zone; ok is false for a community not served.
func (s *Store) Zone(community string) (*time.Location, bool) {
	loc, ok := s.zones[community]
	return loc, ok
}

func (s *Store) zone(community string) (*time.Location, error) {
	loc, ok := s.zones[community]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownCommunity, community)
	}
	return loc, nil
}

// Communities are the communities served.
func (s *Store) Communities() []string {
	out := make([]string, 0, len(s.zones))
	for c := range s.zones {
		out = append(out, c)
	}
	return out
}

// EnsureCommunities records each served community's time zone and returns
// those whose zone changed since the last start: their days must be
// recomputed (Recompute).
func (s *Store) EnsureCommunities(ctx context.Context) ([]string, error) {
	var changed []string
	for c, loc := range s.zones {
		var zone string
		err := s.db.QueryRowContext(ctx, s.db.Rebind("SELECT time_zone FROM insights_communities WHERE community = ?"), c).Scan(&zone)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = s.db.ExecContext(ctx, s.db.Rebind("INSERT INTO insights_communities (community, time_zone) VALUES (?, ?)"), c, loc.String())
		case err == nil && zone != loc.String():
			changed = append(changed, c)
			_, err = s.db.ExecContext(ctx, s.db.Rebind("UPDATE insights_communities SET time_zone = ? WHERE community = ?"), loc.String(), c)
		}
		if err != nil {
			return nil, fmt.Errorf("record community %s: %w", c, err)
		}
	}
	return changed, nil
}

// querier is what reads need: the database or a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ms is t as Unix milliseconds, or NULL when zero.
func ms(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMS reads a time column.
func fromMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

// placeholders is "(?, ?, ...), (...)" for rows rows of n columns.
func placeholders(rows, n int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

// bulkValues bounds the values one multi-row INSERT carries (SQLite takes
// 32,766, PostgreSQL 65,535).
const bulkValues = 30_000

// insertMany inserts rows (each of len(cols) values) into table, many to
// a statement, ignoring rows whose key exists.
func (s *Store) insertMany(ctx context.Context, q querier, table string, cols []string, rows [][]any) error {
	per := min(1000, bulkValues/len(cols))
	for len(rows) > 0 {
		n := min(len(rows), per)
		args := make([]any, 0, n*len(cols))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		query := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " + placeholders(n, len(cols)) + " ON CONFLICT DO NOTHING"
		if _, err := q.ExecContext(ctx, s.db.Rebind(query), args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		rows = rows[n:]
	}
	return nil
}

// LockCommunity holds community for the rest of tx: exclusively for a
// rebuild, shared for the projection's changes. On PostgreSQL it is an
// advisory lock, so a rebuild on one replica waits for, and holds off,
// the projection on every other; on SQLite one writer at a time does
// that already.
func (s *Store) LockCommunity(ctx context.Context, tx *sql.Tx, community string, exclusive bool) error {
	if s.db.Dialect != db.Postgres {
		return nil
	}
	fn := "pg_advisory_xact_lock_shared"
	if exclusive {
		fn = "pg_advisory_xact_lock"
	}
	if _, err := tx.ExecContext(ctx, "SELECT "+fn+"(hashtext($1))", "kinship-insights:"+community); err != nil {
		return fmt.Errorf("lock community %s: %w", community, err)
	}
	return nil
}
