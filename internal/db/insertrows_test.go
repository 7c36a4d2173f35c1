package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
)

func TestInsertRows(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			created := time.Date(2026, 12, 6, 10, 30, 0, 123456000, time.UTC)
			things := func(prefix string, n int) [][]any {
				rows := make([][]any, n)
				for i := range rows {
					rows[i] = []any{fmt.Sprintf("%s-%05d", prefix, i), fmt.Sprintf("%s name %d", prefix, i), created.Add(time.Duration(i) * time.Second)}
				}
				return rows
			}
			insert := func(d *db.DB, tail string, rows [][]any) (int64, error) {
				var n int64
				err := d.InTx(ctx, func(tx *sql.Tx) error {
					var err error
					n, err = d.InsertRows(ctx, tx, "INSERT INTO things (id, name, created_at)", tail, rows)
					return err
				})
				return n, err
			}

			for _, n := range []int{0, 1, 3, 64, 100, 257, 1000} {
				t.Run(fmt.Sprintf("%d rows are stored, each with its own values", n), func(t *testing.T) {
					d := openEngine(t, engine)
					want := things("t", n)
					got, err := insert(d, "", want)
					if err != nil || got != int64(n) {
						t.Fatalf("inserted %d, %v; want %d", got, err, n)
					}
					rows, err := d.QueryContext(ctx, "SELECT id, name, created_at FROM things ORDER BY id")
					if err != nil {
						t.Fatal(err)
					}
					defer rows.Close()
					i := 0
					for rows.Next() {
						var id, name string
						var at time.Time
						if err := rows.Scan(&id, &name, &at); err != nil {
							t.Fatal(err)
						}
						if i >= n {
							t.Fatalf("more than the %d rows inserted", n)
						}
						if id != want[i][0] || name != want[i][1] || !at.Equal(want[i][2].(time.Time)) {
							t.Fatalf("row %d = %s, %s, %s; want %v", i, id, name, at, want[i])
						}
						i++
					}
					if err := rows.Err(); err != nil || i != n {
						t.Fatalf("read %d rows, %v; want %d", i, err, n)
					}
				})
			}

			t.Run("a failing row in a later statement leaves the transaction to roll back every row", func(t *testing.T) {
				d := openEngine(t, engine)
				rows := things("t", 300)
				rows[299][1] = rows[0][1] // the name is unique: the last statement fails
				if _, err := insert(d, "", rows); !db.IsUniqueViolation(err) {
					t.Fatalf("insert = %v, want a unique violation", err)
				}
				var n int
				if err := d.QueryRowContext(ctx, "SELECT count(*) FROM things").Scan(&n); err != nil || n != 0 {
					t.Fatalf("%d rows stored, %v; want none", n, err)
				}
			})

			t.Run("a tail turns the statements into upserts", func(t *testing.T) {
				d := openEngine(t, engine)
				if _, err := insert(d, "", things("t", 10)); err != nil {
					t.Fatal(err)
				}
				rows := things("t", 20)
				for _, r := range rows {
					r[1] = "renamed " + r[1].(string)
				}
				n, err := insert(d, "ON CONFLICT (id) DO UPDATE SET name = excluded.name", rows)
				if err != nil || n != 20 {
					t.Fatalf("upserted %d, %v; want 20", n, err)
				}
				var renamed int
				if err := d.QueryRowContext(ctx, "SELECT count(*) FROM things WHERE name LIKE 'renamed %'").Scan(&renamed); err != nil || renamed != 20 {
					t.Fatalf("%d rows renamed, %v; want 20", renamed, err)
				}
			})

			t.Run("wide rows stay within the engine's parameter limit", func(t *testing.T) {
				d := openEngine(t, engine)
				const cols, n = 200, 300 // 256 rows of 200 columns would exceed SQLite's 32,766 parameters
				names := make([]string, cols)
				for i := range names {
					names[i] = fmt.Sprintf("c%d", i)
				}
				if _, err := d.ExecContext(ctx, "CREATE TABLE wide ("+strings.Join(names, " TEXT, ")+" TEXT)"); err != nil {
					t.Fatal(err)
				}
				rows := make([][]any, n)
				for i := range rows {
					rows[i] = make([]any, cols)
					for j := range rows[i] {
						rows[i][j] = fmt.Sprintf("%d.%d", i, j)
					}
				}
				err := d.InTx(ctx, func(tx *sql.Tx) error {
					got, err := d.InsertRows(ctx, tx, "INSERT INTO wide ("+strings.Join(names, ", ")+")", "", rows)
					if err == nil && got != n {
						err = fmt.Errorf("inserted %d rows, want %d", got, n)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				var last string
				if err := d.QueryRowContext(ctx, d.Rebind("SELECT c199 FROM wide WHERE c0 = ?"), "299.0").Scan(&last); err != nil || last != "299.199" {
					t.Fatalf("last row's last value = %q, %v; want 299.199", last, err)
				}
			})

			t.Run("rows of different widths are refused before anything is written", func(t *testing.T) {
				d := openEngine(t, engine)
				rows := things("t", 3)
				rows[2] = rows[2][:2]
				if _, err := insert(d, "", rows); err == nil {
					t.Fatal("rows of different widths were inserted")
				}
			})
		})
	}
}
