package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// Claim takes the right to deliver m. A new idempotency key stores m as
// pending under a lease and returns it with deliver = true. A known key
// returns the stored message: deliver is false once it was sent or failed,
// and true when an earlier attempt's lease ran out without an outcome. A
// live lease is domain.ErrInProgress; the same key with other content is
// domain.ErrKeyReused.
func (s *Store) Claim(ctx context.Context, m domain.Message, lease time.Duration) (stored domain.Message, deliver bool, err error) {
	now := time.Now().UTC()
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO messages
			(id, community, idempotency_key, fingerprint, member_id, to_email, subject, text_body, status, lease_until, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (community, idempotency_key) DO NOTHING`),
			m.ID, m.Community, m.IdempotencyKey, m.Fingerprint, m.MemberID, m.To, m.Subject, m.Text, m.Status.String(), now.Add(lease), m.CreatedAt)
		if err != nil {
			return fmt.Errorf("store message %s: %w", m.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			stored, deliver = m, true
			return nil
		}
		existing, leaseUntil, err := s.byKey(ctx, tx, m.Community, m.IdempotencyKey)
		if err != nil {
			return err
		}
		switch {
		case existing.Fingerprint != m.Fingerprint:
			return domain.ErrKeyReused
		case existing.Status != domain.StatusPending:
			stored, deliver = existing, false
			return nil
		case leaseUntil.Valid && leaseUntil.Time.After(now):
			return domain.ErrInProgress
		}
		res, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE messages SET lease_until = ?, attempts = attempts + 1
			WHERE id = ? AND status = ? AND (lease_until IS NULL OR lease_until <= ?)`),
			now.Add(lease), existing.ID, domain.StatusPending.String(), now)
		if err != nil {
			return fmt.Errorf("renew lease of message %s: %w", existing.ID, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return domain.ErrInProgress
		}
		stored, deliver = existing, true
		return nil
	})
	return stored, deliver, err
}

// MarkSent records that the mail server accepted message id at sentAt and
// appends sent to the outbox, in one transaction.
func (s *Store) MarkSent(ctx context.Context, id string, sentAt time.Time, sent kafka.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE messages SET status = ?, sent_at = ?, lease_until = NULL
			WHERE id = ? AND status = ?`), domain.StatusSent.String(), sentAt.UTC(), id, domain.StatusPending.String())
		if err != nil {
			return fmt.Errorf("mark message %s sent: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("mark message %s sent: %w", id, domain.ErrNotFound)
		}
		return s.outbox.Append(ctx, tx, sent)
	})
	if err != nil {
		return err
	}
	s.outbox.Notify()
	return nil
}

// MarkFailed records that the mail server refused message id for good.
func (s *Store) MarkFailed(ctx context.Context, id, reason string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE messages SET status = ?, failure_reason = ?, lease_until = NULL
		WHERE id = ? AND status = ?`), domain.StatusFailed.String(), reason, id, domain.StatusPending.String())
	if err != nil {
		return fmt.Errorf("mark message %s failed: %w", id, err)
	}
	return nil
}

// Release gives up the lease on message id after a temporary failure, so a
// retry with the same key may deliver at once.
func (s *Store) Release(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind("UPDATE messages SET lease_until = NULL WHERE id = ? AND status = ?"), id, domain.StatusPending.String())
	if err != nil {
		return fmt.Errorf("release message %s: %w", id, err)
	}
	return nil
}

// GetMessage returns message id of community.
func (s *Store) GetMessage(ctx context.Context, community, id string) (domain.Message, error) {
	m, _, err := s.scanOne(s.db.QueryRowContext(ctx, s.db.Rebind("SELECT "+messageColumns+" FROM messages WHERE community = ? AND id = ?"), community, id))
	return m, err
}

const messageColumns = `id, community, idempotency_key, fingerprint, member_id, to_email, subject, text_body,
	status, failure_reason, created_at, sent_at, lease_until`

func (s *Store) byKey(ctx context.Context, tx *sql.Tx, community, key string) (domain.Message, sql.NullTime, error) {
	return s.scanOne(tx.QueryRowContext(ctx, s.db.Rebind("SELECT "+messageColumns+" FROM messages WHERE community = ? AND idempotency_key = ?"), community, key))
}

func (s *Store) scanOne(row *sql.Row) (domain.Message, sql.NullTime, error) {
	var m domain.Message
	var status string
	var sentAt, leaseUntil sql.NullTime
	err := row.Scan(&m.ID, &m.Community, &m.IdempotencyKey, &m.Fingerprint, &m.MemberID, &m.To, &m.Subject, &m.Text,
		&status, &m.FailureReason, &m.CreatedAt, &sentAt, &leaseUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Message{}, leaseUntil, domain.ErrNotFound
	}
	if err != nil {
		return domain.Message{}, leaseUntil, fmt.Errorf("read message: %w", err)
	}
	if m.Status, err = domain.ParseStatus(status); err != nil {
		return domain.Message{}, leaseUntil, err
	}
	m.CreatedAt = m.CreatedAt.UTC()
	if sentAt.Valid {
		m.SentAt = sentAt.Time.UTC()
	}
	return m, leaseUntil, nil
}
