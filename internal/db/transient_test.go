package db_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/kinshiphq/kinship/internal/db"
)

func TestIsTransientTellsAnUnreachableDatabaseFromAWrongStatement(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"administrator shut the server down", &pgconn.PgError{Code: "57P01"}, true},
		{"server starting", fmt.Errorf("begin: %w", &pgconn.PgError{Code: "57P03"}), true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"bad connection", fmt.Errorf("query: %w", driver.ErrBadConn), true},
		{"connection done", sql.ErrConnDone, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"no rows", sql.ErrNoRows, false},
		{"caller gone", context.Canceled, false},
		{"anything else", errors.New("row 3: bad value"), false},
	} {
		if got := db.IsTransient(c.err); got != c.want {
			t.Errorf("%s (%v): IsTransient = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// The errors the engines really return: a PostgreSQL nothing listens on,
// and a statement each engine refuses.
func TestIsTransientOnTheEnginesErrors(t *testing.T) {
	ctx := context.Background()
	unreachable, err := db.Open(ctx, "postgres://kinship@127.0.0.1:1/none?connect_timeout=2")
	if err == nil {
		_ = unreachable.Close()
	}
	if err == nil || !db.IsTransient(err) {
		t.Errorf("connecting to a closed port: %v, want a transient error", err)
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		d := openEngine(t, engine)
		_, err := d.ExecContext(ctx, "INSERT INTO no_such_table VALUES (1)")
		if err == nil || db.IsTransient(err) {
			t.Errorf("%s: a statement on a missing table: %v, want a lasting error", engine, err)
		}
	}
}
