// Package db opens a service's database — SQLite (pure Go, WAL) by default,
// PostgreSQL when the URL says so — runs its embedded migrations and runs
// transactions. Queries are written with '?' placeholders and rebound for
// PostgreSQL.
package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect is the SQL engine behind a DB.
type Dialect string

// The engines Kinship runs on.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is a connection pool with the dialect it speaks.
type DB struct {
	*sql.DB
	Dialect Dialect
	// writers serialises SQLite write transactions in this process: SQLite
	// has one writer at a time, and waiting on a mutex is fairer and far
	// quicker than its busy-timeout polling.
	writers *sync.Mutex
	// telemetry is set by Instrument.
	telemetry *instruments
	// txConns holds the connections of PostgreSQL transactions InTx runs
	// (nil on SQLite), for InsertRows to COPY over; copies counts the
	// COPYs it sent.
	txConns *txConns
	copies  atomic.Int64
}

// Open connects to the database named by rawURL:
//
//	postgres://user:pass@host:5432/name?sslmode=disable   PostgreSQL (pgx)
//	sqlite:///var/lib/kinship/members.db                  SQLite file
//	/var/lib/kinship/members.db                           SQLite file
//
// SQLite files get WAL journaling, synchronous=NORMAL, a busy timeout and
// immediate write transactions; the parent folder is created.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	if rawURL == "" {
		return nil, errors.New("open database: empty database url")
	}
	if strings.HasPrefix(rawURL, "postgres://") || strings.HasPrefix(rawURL, "postgresql://") {
		return openPostgres(ctx, rawURL)
	}
	return openSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite://"), "sqlite:"))
}

func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	pool, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool.SetMaxOpenConns(20)
	pool.SetMaxIdleConns(10)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := ping(ctx, pool); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("connect to postgres %s: %w", redact(rawURL), err)
	}
	return &DB{DB: pool, Dialect: Postgres, txConns: &txConns{}}, nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create folder for %s: %w", path, err)
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	pool := sql.OpenDB(cachingConnector{dsn: "file:" + path + "?" + q.Encode(), driver: &sqlite.Driver{}})
	if err := ping(ctx, pool); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{DB: pool, Dialect: SQLite, writers: &sync.Mutex{}}, nil
}

func ping(ctx context.Context, pool *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return pool.PingContext(ctx)
}

// redact hides the password of a database URL for logs and errors.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Redacted()
}

// Rebind rewrites '?' placeholders as $1, $2, ... for PostgreSQL.
func (d *DB) Rebind(query string) string {
	if d.Dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// maxBadConnRetries is how many more connections begin tries when the
// one it got was closed by the server (DB.BeginTx tries two more too).
const maxBadConnRetries = 2

// begin begins a transaction; done is to be called once it has ended. On
// PostgreSQL the transaction keeps its connection known until then, for
// InsertRows to COPY over it.
func (d *DB) begin(ctx context.Context) (tx *sql.Tx, done func(), err error) {
	if d.txConns == nil {
		tx, err = d.BeginTx(ctx, nil)
		return tx, func() {}, err
	}
	// A pooled connection the server has closed (a restart, a failover, an
	// administrator) fails its BEGIN, and pgx then knows it closed:
	// database/sql drops it, and BEGIN, which changed nothing, is tried on
	// another.
	var conn *sql.Conn
	for attempt := 0; ; attempt++ {
		if conn, err = d.Conn(ctx); err != nil {
			return nil, nil, err
		}
		if tx, err = conn.BeginTx(ctx, nil); err == nil {
			break
		}
		retry := errors.Is(err, driver.ErrBadConn) || closedConn(conn)
		_ = conn.Close()
		if !retry || attempt == maxBadConnRetries || ctx.Err() != nil {
			return nil, nil, err
		}
	}
	d.txConns.add(tx, conn)
	return tx, func() {
		d.txConns.remove(tx)
		_ = conn.Close()
	}, nil
}

// InTx runs fn in a transaction and commits it when fn returns nil; any error
// or panic rolls it back.
func (d *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	if d.telemetry != nil {
		start := time.Now()
		defer func() { d.telemetry.transaction(ctx, start, err, recover()) }()
	}
	if d.writers != nil {
		d.writers.Lock()
		defer d.writers.Unlock()
	}
	tx, done, err := d.begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer done()
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique-constraint violation on
// either engine.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		return sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
