package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/kinshiphq/kinship/internal/db"
)

// OpenDatabase opens the database at url and applies the migration sets
// in order. The caller closes it.
func OpenDatabase(ctx context.Context, name, url string, logger *slog.Logger, sets ...db.Migrations) (*db.DB, error) {
	d, err := db.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := db.Migrate(ctx, d, logger, sets...); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}
