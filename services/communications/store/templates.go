package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kinshiphq/kinship/services/communications/domain"
)

// SaveTemplate creates or replaces a template and runs audited, in one
// transaction.
func (s *Store) SaveTemplate(ctx context.Context, t domain.Template, audited func(*sql.Tx) error) error {
	raw, err := json.Marshal(t.Variants)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO templates (community, name, variants, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (community, name) DO UPDATE SET variants = excluded.variants, updated_at = excluded.updated_at`),
			t.Community, t.Name, string(raw), t.UpdatedAt)
		if err != nil {
			return fmt.Errorf("save template %s: %w", t.Name, err)
		}
		return audited(tx)
	})
}

// EnsureTemplate stores t in tx unless its community has a template of
// that name; an organiser's own is never replaced.
func (s *Store) EnsureTemplate(ctx context.Context, tx *sql.Tx, t domain.Template) error {
	raw, err := json.Marshal(t.Variants)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO templates (community, name, variants, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (community, name) DO NOTHING`), t.Community, t.Name, string(raw), t.UpdatedAt)
	if err != nil {
		return fmt.Errorf("create default template %s: %w", t.Name, err)
	}
	return nil
}

// Template returns one template, or domain.ErrTemplateNotFound.
func (s *Store) Template(ctx context.Context, community, name string) (domain.Template, error) {
	t, err := scanTemplate(s.db.QueryRowContext(ctx, s.db.Rebind("SELECT community, name, variants, updated_at FROM templates WHERE community = ? AND name = ?"), community, name))
	if errors.Is(err, sql.ErrNoRows) {
		return t, domain.ErrTemplateNotFound
	}
	return t, err
}

// Templates lists a community's templates by name.
func (s *Store) Templates(ctx context.Context, community string) ([]domain.Template, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT community, name, variants, updated_at FROM templates WHERE community = ? ORDER BY name"), community)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	defer rows.Close()
	var out []domain.Template
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteTemplate removes a template of community and runs audited, in one
// transaction; domain.ErrTemplateNotFound when it has none of that name.
func (s *Store) DeleteTemplate(ctx context.Context, community, name string, audited func(*sql.Tx) error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM templates WHERE community = ? AND name = ?"), community, name)
		if err != nil {
			return fmt.Errorf("delete template %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrTemplateNotFound
		}
		return audited(tx)
	})
}

func scanTemplate(row scanner) (domain.Template, error) {
	var t domain.Template
	var raw string
	if err := row.Scan(&t.Community, &t.Name, &raw, &t.UpdatedAt); err != nil {
		return t, err
	}
	if err := json.Unmarshal([]byte(raw), &t.Variants); err != nil {
		return t, fmt.Errorf("decode template %s: %w", t.Name, err)
	}
	t.UpdatedAt = t.UpdatedAt.UTC()
	return t, nil
}
