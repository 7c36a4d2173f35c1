package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// EnsureCommunities records the communities this instance serves; existing
// ones are left as they are.
func (s *Store) EnsureCommunities(ctx context.Context, slugs ...string) error {
	now := time.Now().UTC()
	for _, slug := range slugs {
		_, err := s.db.ExecContext(ctx, s.db.Rebind(
			"INSERT INTO communities (slug, created_at) VALUES (?, ?) ON CONFLICT (slug) DO NOTHING"), slug, now)
		if err != nil {
			return fmt.Errorf("ensure community %s: %w", slug, err)
		}
	}
	return nil
}

func (s *Store) communityExists(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, slug string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, s.db.Rebind("SELECT count(*) FROM communities WHERE slug = ?"), slug).Scan(&n); err != nil {
		return false, fmt.Errorf("look up community %s: %w", slug, err)
	}
	return n == 1, nil
}
