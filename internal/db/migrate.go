package db

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Migrations is one owner's embedded SQL migrations, one folder per engine,
// tracked in their own version table so shared plumbing (outbox, inbox) and
// the service's own schema evolve independently.
type Migrations struct {
	// Name becomes the version table <Name>_schema_version.
	Name     string
	SQLite   fs.FS
	Postgres fs.FS
}

// EmbeddedMigrations returns the migrations kept in fsys under
// migrations/sqlite and migrations/postgres, the layout every owner uses.
func EmbeddedMigrations(name string, fsys fs.FS) Migrations {
	sqliteFS, err := fs.Sub(fsys, "migrations/sqlite")
	if err != nil {
		panic(fmt.Sprintf("migrations of %s: %v", name, err)) // a build-time layout mistake
	}
	pgFS, err := fs.Sub(fsys, "migrations/postgres")
	if err != nil {
		panic(fmt.Sprintf("migrations of %s: %v", name, err))
	}
	return Migrations{Name: name, SQLite: sqliteFS, Postgres: pgFS}
}

// Migrate applies every pending migration of each set, in order. On
// PostgreSQL a session advisory lock keeps concurrent replicas from
// migrating at once.
func Migrate(ctx context.Context, d *DB, logger *slog.Logger, sets ...Migrations) error {
	for _, set := range sets {
		fsys, dialect := set.SQLite, goose.DialectSQLite3
		opts := []goose.ProviderOption{goose.WithTableName(set.Name + "_schema_version"), goose.WithDisableGlobalRegistry(true)}
		if d.Dialect == Postgres {
			fsys, dialect = set.Postgres, goose.DialectPostgres
			locker, err := lock.NewPostgresSessionLocker()
			if err != nil {
				return fmt.Errorf("migrate %s: create lock: %w", set.Name, err)
			}
			opts = append(opts, goose.WithSessionLocker(locker))
		}
		if fsys == nil {
			return fmt.Errorf("migrate %s: no migrations for %s", set.Name, d.Dialect)
		}
		p, err := goose.NewProvider(dialect, d.DB, fsys, opts...)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", set.Name, err)
		}
		results, err := p.Up(ctx)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", set.Name, err)
		}
		for _, r := range results {
			logger.InfoContext(ctx, "applied migration", "set", set.Name, "version", r.Source.Version, "duration_ms", r.Duration.Milliseconds())
		}
	}
	return nil
}
