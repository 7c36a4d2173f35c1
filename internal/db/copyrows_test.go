package db_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/db"
)

func TestInsertRowsCopiesManyRowsOnPostgres(t *testing.T) {
	ctx := context.Background()
	d := openEngine(t, "postgres")
	if _, err := d.ExecContext(ctx, `CREATE TABLE kinds (
		seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE, body BYTEA NOT NULL,
		flag BOOLEAN NOT NULL, n INTEGER NOT NULL, at TIMESTAMPTZ, note TEXT, kept TEXT NOT NULL DEFAULT 'kept')`); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 6, 23, 59, 59, 999999000, time.UTC)
	rows := make([][]any, 300)
	for i := range rows {
		var when, note any // every other row leaves both NULL
		if i%2 == 0 {
			when, note = at.Add(time.Duration(i)*time.Minute), fmt.Sprintf("note, with a comma; and a quote ' %d", i)
		}
		rows[i] = []any{fmt.Sprintf("k%03d", 299-i), []byte{0, byte(i), '\n', '\\'}, i%3 == 0, i - 150, when, note}
	}
	const head = "INSERT INTO kinds (id, body, flag, n, at, note)"
	copyInTx := func() (int64, error) {
		var n int64
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			n, err = d.InsertRows(ctx, tx, head, "", rows)
			return err
		})
		return n, err
	}

	t.Run("the rows go as one COPY, in order, each value as given", func(t *testing.T) {
		before := d.Copies()
		if n, err := copyInTx(); err != nil || n != 300 {
			t.Fatalf("inserted %d, %v; want 300", n, err)
		}
		if got := d.Copies() - before; got != 1 {
			t.Fatalf("%d COPYs sent, want 1", got)
		}
		got, err := d.QueryContext(ctx, "SELECT id, body, flag, n, at, note, kept FROM kinds ORDER BY seq")
		if err != nil {
			t.Fatal(err)
		}
		defer got.Close()
		i := 0
		for ; got.Next(); i++ {
			var id, kept string
			var body []byte
			var flag bool
			var n int
			var when sql.NullTime
			var note sql.NullString
			if err := got.Scan(&id, &body, &flag, &n, &when, &note, &kept); err != nil {
				t.Fatal(err)
			}
			w := rows[i]
			if id != w[0] || !bytes.Equal(body, w[1].([]byte)) || flag != w[2] || n != w[3] || kept != "kept" {
				t.Fatalf("row %d = %s %v %v %d %s, want %v", i, id, body, flag, n, kept, w)
			}
			if i%2 == 0 && (!when.Valid || !when.Time.Equal(w[4].(time.Time)) || note.String != w[5]) || i%2 == 1 && (when.Valid || note.Valid) {
				t.Fatalf("row %d: at %v, note %v; want %v, %v", i, when, note, w[4], w[5])
			}
		}
		if err := got.Err(); err != nil || i != 300 {
			t.Fatalf("read %d rows, %v; want 300", i, err)
		}
	})

	t.Run("a failing row fails the COPY as a statement would, and nothing of it stays", func(t *testing.T) {
		if _, err := d.ExecContext(ctx, "DELETE FROM kinds"); err != nil {
			t.Fatal(err)
		}
		dup := slices.Clone(rows)
		dup[250] = slices.Clone(dup[250])
		dup[250][0] = dup[10][0]
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			_, err := d.InsertRows(ctx, tx, head, "", dup)
			return err
		})
		if !db.IsUniqueViolation(err) {
			t.Fatalf("insert = %v, want a unique violation", err)
		}
		var n int
		if err := d.QueryRowContext(ctx, "SELECT count(*) FROM kinds").Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d rows stored, %v; want none", n, err)
		}
	})

	t.Run("a transaction not begun by InTx inserts with statements", func(t *testing.T) {
		if _, err := d.ExecContext(ctx, "DELETE FROM kinds"); err != nil {
			t.Fatal(err)
		}
		before := d.Copies()
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		if n, err := d.InsertRows(ctx, tx, head, "", rows); err != nil || n != 300 {
			t.Fatalf("inserted %d, %v; want 300", n, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := d.Copies() - before; got != 0 {
			t.Fatalf("%d COPYs sent, want none", got)
		}
		var first string
		if err := d.QueryRowContext(ctx, "SELECT id FROM kinds ORDER BY seq LIMIT 1").Scan(&first); err != nil || first != "k299" {
			t.Fatalf("first row %q, %v; want k299", first, err)
		}
	})
}

func TestInsertRowsPicksCopy(t *testing.T) {
	for _, c := range []struct {
		n, most int
		want    bool
	}{
		{1, 256, false}, {16, 256, false}, {24, 256, false}, // one or two statements
		{7, 256, true}, {100, 256, true}, {487, 256, true}, // three or more
		{128, 256, true}, {256, 256, true}, {512, 256, true}, // many rows
		{96, 64, false}, {192, 64, true},
	} {
		if got := db.UseCopy(c.n, c.most); got != c.want {
			t.Errorf("UseCopy(%d, %d) = %v, want %v", c.n, c.most, got, c.want)
		}
	}
	for head, want := range map[string]string{
		"INSERT INTO things (id, name, created_at)":                    "things id,name,created_at",
		"INSERT INTO rsvps (id, community,\n\t\toffer_expires_at)":     "rsvps id,community,offer_expires_at",
		"  INSERT INTO audit_log (id)  ":                               "audit_log id",
		"INSERT INTO public.things (id)":                               "",
		`INSERT INTO "Things" (id)`:                                    "",
		"INSERT INTO things (id, name) SELECT":                         "",
		"INSERT INTO things (id, (name))":                              "",
		"INSERT INTO things id, name":                                  "",
		"insert into things (id)":                                      "",
		"INSERT INTO things (id,)":                                     "",
		"INSERT INTO things (1d)":                                      "",
		"INSERT INTO things (id) ON CONFLICT DO NOTHING; DROP TABLE x": "",
	} {
		table, cols, ok := db.InsertTarget(head)
		got := ""
		if ok {
			got = table + " " + strings.Join(cols, ",")
		}
		if got != want {
			t.Errorf("InsertTarget(%q) = %q, want %q", head, got, want)
		}
	}
}

func TestInTxOnPostgresSurvivesConnectionsTheServerClosed(t *testing.T) {
	ctx := context.Background()
	d := openEngine(t, "postgres")
	// Two idle connections in the pool; the server then ends every session
	// but the one asking (which takes one of them).
	var idle []*sql.Conn
	for range 2 {
		c, err := d.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	for _, c := range idle {
		_ = c.Close()
	}
	killer, err := d.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var killed int
	if err := killer.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	defer killer.Close() // held, so that the pool's idle connections are the closed ones
	if killed < 1 {
		t.Fatalf("%d sessions ended, want at least 1", killed)
	}
	// No pause: pgx pings a connection idle for over a second before
	// reuse, so the first BEGIN meets the closed one.
	for i := range 3 {
		rows := make([][]any, 7) // seven rows: a COPY
		for j := range rows {
			rows[j] = []any{fmt.Sprintf("after-%d-%d", i, j), fmt.Sprintf("name %d %d", i, j), time.Now()}
		}
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			_, err := d.InsertRows(ctx, tx, "INSERT INTO things (id, name, created_at)", "", rows)
			return err
		})
		if err != nil {
			t.Fatalf("transaction %d after the server closed the pool's connections: %v", i, err)
		}
	}
	var n int
	if err := d.QueryRowContext(ctx, "SELECT count(*) FROM things").Scan(&n); err != nil || n != 21 {
		t.Fatalf("%d rows, %v; want 21", n, err)
	}
}
