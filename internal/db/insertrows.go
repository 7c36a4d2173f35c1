package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
)

// Bind parameters one statement may carry: PostgreSQL's wire protocol
// counts them in 16 bits; SQLite's limit is 32,766 since 3.32.
const (
	maxParamsPostgres = 65535
	maxParamsSQLite   = 32766
	// maxRowsPerStatement bounds one multi-row statement.
	maxRowsPerStatement = 256
)

// InsertRows inserts rows in tx with multi-row statements and returns the
// rows they affected. head is the statement up to its VALUES list
// ("INSERT INTO t (a, b)"), tail what follows the list (an ON CONFLICT
// clause, or nothing); every row holds one value per column, in head's
// order, and rows go in in the order given. head and tail hold no
// placeholders of their own.
//
// On PostgreSQL, in a transaction InTx began, plain inserts (no tail)
// that would take more than two statements, or many rows, are sent with
// one COPY instead (see copyRows).
//
// Rows are split into statements of 2^k rows — the largest that fits what
// is left, at most 256 and within the engine's parameter limit — so a
// connection's statement cache holds a handful of shapes per table
// whatever the batch sizes: 64 rows take one statement, 100 take three.
func (d *DB) InsertRows(ctx context.Context, tx *sql.Tx, head, tail string, rows [][]any) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	cols := len(rows[0])
	if cols == 0 {
		return 0, errors.New("insert rows: a row without values")
	}
	for _, r := range rows {
		if len(r) != cols {
			return 0, fmt.Errorf("insert rows: a row of %d values among rows of %d", len(r), cols)
		}
	}
	limit := maxParamsSQLite
	if d.Dialect == Postgres {
		limit = maxParamsPostgres
	}
	most := 1
	for most*2 <= min(maxRowsPerStatement, limit/cols) {
		most *= 2
	}
	if d.txConns != nil && tail == "" && useCopy(len(rows), most) {
		if conn, ok := d.txConns.of(tx); ok {
			if n, copied, err := d.copyRows(ctx, conn, head, rows); copied {
				return n, err
			}
		}
	}
	var total int64
	args := make([]any, 0, min(most, len(rows))*cols)
	for len(rows) > 0 {
		n := most
		for n > len(rows) {
			n /= 2
		}
		args = args[:0]
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		res, err := tx.ExecContext(ctx, d.valuesStatement(head, tail, n, cols), args...)
		if err != nil {
			return total, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += k
		rows = rows[n:]
	}
	return total, nil
}

// valuesStatement is head, a VALUES list of n rows of cols placeholders
// ('?', or $1, $2, ... on PostgreSQL), and tail.
func (d *DB) valuesStatement(head, tail string, n, cols int) string {
	b := make([]byte, 0, len(head)+len(tail)+16+n*cols*6)
	b = append(b, head...)
	b = append(b, " VALUES "...)
	p := 0
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '(')
		for j := range cols {
			if j > 0 {
				b = append(b, ", "...)
			}
			p++
			if d.Dialect == Postgres {
				b = strconv.AppendInt(append(b, '$'), int64(p), 10)
			} else {
				b = append(b, '?')
			}
		}
		b = append(b, ')')
	}
	if tail != "" {
		b = append(append(b, ' '), tail...)
	}
	return string(b)
}
