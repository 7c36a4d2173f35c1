package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kinshiphq/kinship/services/communications/domain"
)

// SaveTemplate creates or replaces a template.
func (s *Store) SaveTemplate(ctx context.Context, t domain.Template) error {
	raw, err := json.Marshal(t.Variants)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO templates (community, name, variants, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (community, name) DO UPDATE SET variants = excluded.variants, updated_at = excluded.updated_at`),
		t.Community, t.Name, string(raw), t.UpdatedAt)
	if err != nil {
		return fmt.Errorf("save template %s: %w", t.Name, err)
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

// DeleteTemplate removes a template; a missing one is not an error.
func (s *Store) DeleteTemplate(ctx context.Context, community, name string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind("DELETE FROM templates WHERE community = ? AND name = ?"), community, name)
	return err
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
