package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
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

// communityExists reports whether the community slug exists. A community
// is never removed once recorded (EnsureCommunities, committed on its
// own), so one found is remembered and not looked up again: a batch of
// joins checks its communities without a statement.
func (s *Store) communityExists(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, slug string) (bool, error) {
	if s.communities.has(slug) {
		return true, nil
	}
	var n int
	if err := q.QueryRowContext(ctx, s.db.Rebind("SELECT count(*) FROM communities WHERE slug = ?"), slug).Scan(&n); err != nil {
		return false, fmt.Errorf("look up community %s: %w", slug, err)
	}
	if n == 1 {
		s.communities.add(slug)
	}
	return n == 1, nil
}

// knownCommunities are the communities a store has found to exist.
type knownCommunities struct {
	mu    sync.RWMutex
	slugs map[string]bool
}

func (k *knownCommunities) has(slug string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.slugs[slug]
}

func (k *knownCommunities) add(slug string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.slugs == nil {
		k.slugs = map[string]bool{}
	}
	k.slugs[slug] = true
}
