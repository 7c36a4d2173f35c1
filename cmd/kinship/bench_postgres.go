//go:build !nodev

package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
)

// benchEngine is a database engine a benchmark runs on: SQLite in the
// benchmark's folder, or a database of a throwaway PostgreSQL cluster.
type benchEngine struct {
	name string // "SQLite" or "PostgreSQL"
	pg   *dbtest.Cluster
}

// benchPostgresNote says how the PostgreSQL of the benchmarks runs.
const benchPostgresNote = "PostgreSQL is the system's (Debian's) server started on loopback as internal/db/dbtest starts it " +
	"(fsync, synchronous_commit and full_page_writes off: a throwaway cluster, so its commits cost less than a durable one's)."

// benchEngines returns SQLite and, when its binaries are installed,
// PostgreSQL; stop stops the cluster.
func benchEngines(ctx context.Context) ([]benchEngine, func(), error) {
	engines := []benchEngine{{name: "SQLite"}}
	c, err := dbtest.Start(ctx)
	switch {
	case errors.Is(err, dbtest.ErrNotInstalled):
		return engines, func() {}, nil
	case err != nil:
		return nil, nil, fmt.Errorf("bench: start PostgreSQL: %w", err)
	}
	return append(engines, benchEngine{name: "PostgreSQL", pg: c}), c.Stop, nil
}

// url returns the database URL of a fresh database for one service: a
// file under dir on SQLite, a new database on PostgreSQL.
func (e benchEngine) url(ctx context.Context, dir, name string) (string, error) {
	if e.pg == nil {
		return dir + "/" + name + ".db", nil
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	database := "bench_" + name + "_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", e.pg.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+database); err != nil {
		return "", fmt.Errorf("bench: create database %s: %w", database, err)
	}
	return e.pg.URL(database), nil
}
