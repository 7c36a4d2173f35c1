package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/kinshiphq/kinship/services/communications/domain"
)

// CreateWebhook stores a webhook and runs audited, in one transaction.
func (s *Store) CreateWebhook(ctx context.Context, w domain.Webhook, audited func(*sql.Tx) error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO webhooks (id, community, url, format, secret, enabled, disabled_reason, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), w.ID, w.Community, w.URL, string(w.Format), w.Secret, w.Enabled, w.DisabledReason, w.CreatedAt)
		if err != nil {
			return fmt.Errorf("store webhook: %w", err)
		}
		return audited(tx)
	})
}

const webhookColumns = "id, community, url, format, secret, enabled, disabled_reason, created_at"

// Webhooks lists a community's webhooks; enabledOnly skips disabled ones.
func (s *Store) Webhooks(ctx context.Context, community string, enabledOnly bool) ([]domain.Webhook, error) {
	q := "SELECT " + webhookColumns + " FROM webhooks WHERE community = ?"
	args := []any{community}
	if enabledOnly {
		q += " AND enabled = ?"
		args = append(args, true)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q+" ORDER BY created_at"), args...)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	var out []domain.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// Webhook returns one webhook, or domain.ErrWebhookNotFound.
func (s *Store) Webhook(ctx context.Context, community, id string) (domain.Webhook, error) {
	w, err := scanWebhook(s.db.QueryRowContext(ctx, s.db.Rebind("SELECT "+webhookColumns+" FROM webhooks WHERE community = ? AND id = ?"), community, id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, domain.ErrWebhookNotFound
	}
	return w, err
}

// DisableWebhook stops posting to a webhook of community, saying why.
func (s *Store) DisableWebhook(ctx context.Context, community, id, reason string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind("UPDATE webhooks SET enabled = ?, disabled_reason = ? WHERE community = ? AND id = ?"), false, reason, community, id)
	return err
}

// DeleteWebhook removes a webhook of community and runs audited, in one
// transaction; domain.ErrWebhookNotFound when it has none of that id.
func (s *Store) DeleteWebhook(ctx context.Context, community, id string, audited func(*sql.Tx) error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM webhooks WHERE community = ? AND id = ?"), community, id)
		if err != nil {
			return fmt.Errorf("delete webhook %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrWebhookNotFound
		}
		return audited(tx)
	})
}

func scanWebhook(row scanner) (domain.Webhook, error) {
	var w domain.Webhook
	var format string
	err := row.Scan(&w.ID, &w.Community, &w.URL, &format, &w.Secret, &w.Enabled, &w.DisabledReason, &w.CreatedAt)
	w.Format = domain.WebhookFormat(format)
	w.CreatedAt = w.CreatedAt.UTC()
	return w, err
}
