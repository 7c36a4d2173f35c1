package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// BenchmarkInsertRows inserts n outbox-like rows in a transaction on
// PostgreSQL, with statements (a transaction InTx did not begin) and as
// InTx sends them (COPY where db.InsertRows picks it): where COPY starts
// to pay.
//
//	go test -run XXX -bench BenchmarkInsertRows ./internal/db/
func BenchmarkInsertRows(b *testing.B) {
	ctx := context.Background()
	d := openEngine(b, "postgres")
	if _, err := d.ExecContext(ctx, `CREATE TABLE events_out (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		event_id TEXT NOT NULL UNIQUE, topic TEXT NOT NULL, payload BYTEA NOT NULL, occurred_at TIMESTAMPTZ NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 300)
	next := 0
	rows := func(n int) [][]any {
		out := make([][]any, n)
		for i := range out {
			next++
			out[i] = []any{fmt.Sprintf("%036d", next), "demo.events.v1", payload, time.Now()}
		}
		return out
	}
	const head = "INSERT INTO events_out (event_id, topic, payload, occurred_at)"
	for _, n := range []int{3, 7, 15, 31, 63, 100, 256, 512} {
		b.Run(fmt.Sprintf("%d/statements", n), func(b *testing.B) {
			for b.Loop() {
				tx, err := d.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := d.InsertRows(ctx, tx, head, "", rows(n)); err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("%d/intx", n), func(b *testing.B) {
			for b.Loop() {
				if err := d.InTx(ctx, func(tx *sql.Tx) error {
					_, err := d.InsertRows(ctx, tx, head, "", rows(n))
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
