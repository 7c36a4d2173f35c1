package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// CreateAPIKey stores k and audits its creation in one transaction.
func (s *Store) CreateAPIKey(ctx context.Context, k domain.APIKey, audit Auditor) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		ok, err := s.communityExists(ctx, tx, k.Community)
		if err != nil {
			return err
		}
		if !ok {
			return domain.ErrUnknownCommunity
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO api_keys (id, community, name, prefix, hash, roles, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), k.ID, k.Community, k.Name, k.Prefix, k.Hash, joinRoles(k.Roles), k.CreatedAt, k.CreatedBy)
		if err != nil {
			return fmt.Errorf("store api key %s: %w", k.ID, err)
		}
		return audit.Record(ctx, tx, k.Community, "api_key.created", "api_key", k.ID)
	})
}

// RevokeAPIKey revokes key id of community and audits it; revoking a
// revoked key changes nothing and records nothing.
func (s *Store) RevokeAPIKey(ctx context.Context, community, id string, audit Auditor) (domain.APIKey, error) {
	var k domain.APIKey
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE api_keys SET revoked_at = ? WHERE community = ? AND id = ? AND revoked_at IS NULL"),
			time.Now().UTC().Truncate(time.Microsecond), community, id)
		if err != nil {
			return fmt.Errorf("revoke api key %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if err := audit.Record(ctx, tx, community, "api_key.revoked", "api_key", id); err != nil {
				return err
			}
		}
		k, err = s.scanKey(tx.QueryRowContext(ctx, s.db.Rebind("SELECT "+keyColumns+" FROM api_keys WHERE community = ? AND id = ?"), community, id))
		return err
	})
	return k, err
}

// ListAPIKeys returns community's keys, newest first.
func (s *Store) ListAPIKeys(ctx context.Context, community string) ([]domain.APIKey, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+keyColumns+" FROM api_keys WHERE community = ? ORDER BY id DESC"), community)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	var out []domain.APIKey
	for rows.Next() {
		k, err := s.scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// VerifyAPIKey resolves a presented key: it must exist, match its hash and
// not be revoked. Its last use is recorded at most once a minute, audited
// as api_key.used with the key as the actor, in one transaction.
func (s *Store) VerifyAPIKey(ctx context.Context, plain string, audit Auditor) (auth.Principal, error) {
	prefix, err := auth.ParseAPIKey(plain)
	if err != nil {
		return auth.Principal{}, auth.ErrUnknownKey
	}
	k, err := s.scanKey(s.db.QueryRowContext(ctx, s.db.Rebind("SELECT "+keyColumns+" FROM api_keys WHERE prefix = ?"), prefix))
	if errors.Is(err, domain.ErrKeyNotFound) {
		return auth.Principal{}, auth.ErrUnknownKey
	}
	if err != nil {
		return auth.Principal{}, err
	}
	if k.Revoked() || !auth.HashMatches(plain, k.Hash) {
		return auth.Principal{}, auth.ErrUnknownKey
	}
	p := auth.Principal{Kind: auth.KindAPIKey, Subject: k.ID, Community: k.Community, Roles: k.Roles}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if now.Sub(k.LastUsedAt) <= time.Minute {
		return p, nil
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE api_keys SET last_used_at = ?
			WHERE community = ? AND id = ? AND (last_used_at IS NULL OR last_used_at < ?)`), now, k.Community, k.ID, now.Add(-time.Minute))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil // recorded by a concurrent call
		}
		return audit.Record(auth.WithPrincipal(ctx, p, auth.ScopeNone), tx, k.Community, "api_key.used", "api_key", k.ID)
	})
	if err != nil {
		return auth.Principal{}, fmt.Errorf("record use of api key %s: %w", k.ID, err)
	}
	return p, nil
}

const keyColumns = "id, community, name, prefix, hash, roles, created_at, created_by, last_used_at, revoked_at"

type rowScanner interface{ Scan(dest ...any) error }

func (s *Store) scanKey(row rowScanner) (domain.APIKey, error) {
	var k domain.APIKey
	var roles string
	var lastUsed, revoked sql.NullTime
	err := row.Scan(&k.ID, &k.Community, &k.Name, &k.Prefix, &k.Hash, &roles, &k.CreatedAt, &k.CreatedBy, &lastUsed, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return k, domain.ErrKeyNotFound
	}
	if err != nil {
		return k, fmt.Errorf("read api key: %w", err)
	}
	for _, r := range strings.Split(roles, ",") {
		k.Roles = append(k.Roles, auth.Role(r))
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if lastUsed.Valid {
		k.LastUsedAt = lastUsed.Time.UTC()
	}
	if revoked.Valid {
		k.RevokedAt = revoked.Time.UTC()
	}
	return k, nil
}

func joinRoles(roles []auth.Role) string {
	parts := make([]string, len(roles))
	for i, r := range roles {
		parts[i] = string(r)
	}
	return strings.Join(parts, ",")
}
