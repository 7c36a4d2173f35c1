package db_test

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
)

var pg *dbtest.Cluster

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, &pg)) }

//go:embed testdata/migrations
var testMigrations embed.FS

func thingMigrations(t testing.TB) db.Migrations {
	t.Helper()
	sqliteFS, err := fs.Sub(testMigrations, "testdata/migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	pgFS, err := fs.Sub(testMigrations, "testdata/migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	return db.Migrations{Name: "things", SQLite: sqliteFS, Postgres: pgFS}
}

func openEngine(t testing.TB, engine string) *db.DB {
	t.Helper()
	return dbtest.Open(t, engine, pg, thingMigrations(t))
}

func TestEngines(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			d := openEngine(t, engine)
			ctx := context.Background()
			insert := d.Rebind("INSERT INTO things (id, name, created_at) VALUES (?, ?, ?)")
			created := time.Date(2026, 11, 25, 10, 30, 0, 123456000, time.UTC)

			t.Run("committed transaction is visible with its time intact", func(t *testing.T) {
				err := d.InTx(ctx, func(tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, insert, "1", "first", created)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				var got time.Time
				if err := d.QueryRowContext(ctx, d.Rebind("SELECT created_at FROM things WHERE id = ?"), "1").Scan(&got); err != nil {
					t.Fatal(err)
				}
				if !got.Equal(created) {
					t.Errorf("created_at = %v, want %v", got, created)
				}
			})

			t.Run("failed transaction leaves nothing behind", func(t *testing.T) {
				boom := errors.New("boom")
				err := d.InTx(ctx, func(tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, insert, "2", "second", created); err != nil {
						return err
					}
					return boom
				})
				if !errors.Is(err, boom) {
					t.Fatalf("InTx error = %v, want boom", err)
				}
				var n int
				if err := d.QueryRowContext(ctx, "SELECT count(*) FROM things WHERE name = 'second'").Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("rolled-back row is visible")
				}
			})

			t.Run("unique violation is recognised", func(t *testing.T) {
				_, err := d.ExecContext(ctx, insert, "3", "first", created)
				if !db.IsUniqueViolation(err) {
					t.Fatalf("db.IsUniqueViolation(%v) = false", err)
				}
				if db.IsUniqueViolation(errors.New("other")) {
					t.Error("db.IsUniqueViolation(plain error) = true")
				}
			})

			t.Run("migrating again is a no-op", func(t *testing.T) {
				if err := db.Migrate(ctx, d, slog.New(slog.DiscardHandler), thingMigrations(t)); err != nil {
					t.Fatalf("second Migrate: %v", err)
				}
			})
		})
	}
}

func TestNestedQueriesOfOneStatementStayApart(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			d := openEngine(t, engine)
			ctx := context.Background()
			insert := d.Rebind("INSERT INTO things (id, name, created_at) VALUES (?, ?, ?)")
			for i := range 3 {
				if _, err := d.ExecContext(ctx, insert, fmt.Sprint(i), fmt.Sprint("n", i), time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			// The cached statement is busy with the outer rows while the
			// inner loop runs the same query, inside one transaction.
			err := d.InTx(ctx, func(tx *sql.Tx) error {
				outer, err := tx.QueryContext(ctx, "SELECT id FROM things ORDER BY id")
				if err != nil {
					return err
				}
				var ids []string
				for outer.Next() {
					var id string
					if err := outer.Scan(&id); err != nil {
						return err
					}
					ids = append(ids, id)
				}
				outer.Close()
				for range 3 {
					rows, err := tx.QueryContext(ctx, "SELECT id FROM things ORDER BY id")
					if err != nil {
						return err
					}
					n := 0
					for rows.Next() {
						n++
					}
					rows.Close()
					if n != 3 {
						return fmt.Errorf("query saw %d rows, want 3", n)
					}
				}
				if len(ids) != 3 {
					return fmt.Errorf("outer query saw %v", ids)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := d.QueryContext(ctx, "SELECT id FROM things ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			seen := 0
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				var name string
				// The same text again while rows is open on another connection.
				if err := d.QueryRowContext(ctx, d.Rebind("SELECT name FROM things WHERE id = ?"), id).Scan(&name); err != nil || name != "n"+id {
					t.Fatalf("inner lookup of %s = %q, %v", id, name, err)
				}
				seen++
			}
			if seen != 3 {
				t.Errorf("outer rows = %d, want 3", seen)
			}
		})
	}
}

func TestSQLiteUsesWAL(t *testing.T) {
	d := openEngine(t, "sqlite")
	var mode string
	if err := d.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	var sync int
	if err := d.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if sync != 1 { // NORMAL
		t.Errorf("synchronous = %d, want 1 (NORMAL)", sync)
	}
}

func TestRebind(t *testing.T) {
	pgDB := &db.DB{Dialect: db.Postgres}
	if got := pgDB.Rebind("SELECT a FROM t WHERE b = ? AND c = ?"); got != "SELECT a FROM t WHERE b = $1 AND c = $2" {
		t.Errorf("postgres Rebind = %q", got)
	}
	sqliteDB := &db.DB{Dialect: db.SQLite}
	if got := sqliteDB.Rebind("SELECT ?"); got != "SELECT ?" {
		t.Errorf("sqlite Rebind = %q", got)
	}
}

func TestOpenRedactsPasswordOnFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := db.Open(ctx, "postgres://kinship:s3cret@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error leaks the password: %v", err)
	}
}
