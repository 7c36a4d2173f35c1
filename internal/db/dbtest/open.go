package dbtest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/kinshiphq/kinship/internal/db"
)

// Engines names the engines every store contract suite runs against.
func Engines() []string { return []string{"sqlite", "postgres"} }

// Open returns a fresh, migrated database on engine for one test. The
// PostgreSQL engine skips the test when cluster is nil (not installed).
func Open(t testing.TB, engine string, cluster *Cluster, sets ...db.Migrations) *db.DB {
	t.Helper()
	var url string
	switch engine {
	case "sqlite":
		url = filepath.Join(t.TempDir(), "test.db")
	case "postgres":
		url = Database(t, cluster)
	default:
		t.Fatalf("unknown engine %q", engine)
	}
	ctx := context.Background()
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := db.Migrate(ctx, d, slog.New(slog.DiscardHandler), sets...); err != nil {
		t.Fatalf("migrate %s: %v", engine, err)
	}
	return d
}
