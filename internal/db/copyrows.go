package db

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// On PostgreSQL, InsertRows sends larger sets of plain inserts with COPY
// (binary) over the transaction's connection instead of multi-row INSERT
// statements: one COPY whatever the number of rows, where INSERT takes a
// statement for every power of two in the count (487 rows are seven), and
// neither pgx nor the server handles thousands of bind parameters. The
// rows go in in the order given, in the caller's transaction, fire the
// same triggers and constraints, and fail with the same errors (a unique
// violation is still one). COPY costs two round trips (the command, then
// the data), so it is used only where the statements would be more than
// two, or the rows many.

// copyManyRows is the number of rows from which COPY is used even when
// InsertRows would need no more than two statements for them.
const copyManyRows = 128

// txConns keeps the connection of every PostgreSQL transaction InTx
// runs, so that InsertRows can reach it to COPY.
type txConns struct {
	mu   sync.Mutex
	byTx map[*sql.Tx]*sql.Conn
}

func (c *txConns) add(tx *sql.Tx, conn *sql.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byTx == nil {
		c.byTx = map[*sql.Tx]*sql.Conn{}
	}
	c.byTx[tx] = conn
}

func (c *txConns) remove(tx *sql.Tx) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byTx, tx)
}

// of is the connection of tx, if InTx began it.
func (c *txConns) of(tx *sql.Tx) (*sql.Conn, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	conn, ok := c.byTx[tx]
	return conn, ok
}

// useCopy says whether InsertRows copies n rows of a plain insert on
// PostgreSQL rather than sending statements of at most most rows.
func useCopy(n, most int) bool {
	statements := n/most + bits.OnesCount(uint(n%most))
	return statements > 2 || n >= copyManyRows
}

// insertTarget reads the table and the columns out of an InsertRows head
// ("INSERT INTO t (a, b)"); ok is false for anything else, such as a
// schema-qualified or quoted name, which then goes as statements.
func insertTarget(head string) (table string, columns []string, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(head), "INSERT INTO ")
	if !found {
		return "", nil, false
	}
	table, list, found := strings.Cut(rest, "(")
	table = strings.TrimSpace(table)
	list, closed := strings.CutSuffix(strings.TrimSpace(list), ")")
	if !found || !closed || !plainName(table) {
		return "", nil, false
	}
	for _, c := range strings.Split(list, ",") {
		c = strings.TrimSpace(c)
		if !plainName(c) {
			return "", nil, false
		}
		columns = append(columns, c)
	}
	return table, columns, true
}

// plainName reports whether s is an unquoted lower-case SQL name.
func plainName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// copyRows copies rows into the table and columns of head over conn, the
// connection of the open transaction the rows belong to. copied is false,
// and nothing was sent, when head is not a plain INSERT INTO or conn is
// not pgx's: the caller then inserts with statements.
func (d *DB) copyRows(ctx context.Context, conn *sql.Conn, head string, rows [][]any) (n int64, copied bool, err error) {
	table, columns, ok := insertTarget(head)
	if !ok {
		return 0, false, nil
	}
	err = conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return nil
		}
		copied = true
		n, err = c.Conn().CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return n, copied, fmt.Errorf("copy %d rows into %s: %w", len(rows), table, err)
	}
	if copied {
		d.copies.Add(1)
	}
	return n, copied, nil
}

// closedConn reports whether pgx knows conn's connection to be closed.
func closedConn(conn *sql.Conn) bool {
	closed := false
	_ = conn.Raw(func(driverConn any) error {
		if c, ok := driverConn.(*stdlib.Conn); ok {
			closed = c.Conn().IsClosed()
		}
		return nil
	})
	return closed
}
