package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

const messageColumns = `id, community, idempotency_key, fingerprint, member_id, to_email, subject, text_body, html_body,
	template, vars, kind, channel, announcement_id, status, failure_reason, attempts, created_at, due_at, sent_at, lease_until,
	sending_at, sending_attempt`

// insertMessage stores m with a lease until leaseUntil (zero: none).
func (s *Store) insertMessage(ctx context.Context, q querier, m domain.Message, leaseUntil time.Time) (bool, error) {
	vars, err := json.Marshal(m.Vars)
	if err != nil {
		return false, err
	}
	var lease, due any
	if !leaseUntil.IsZero() {
		lease = leaseUntil.UTC()
	}
	if !m.DueAt.IsZero() {
		due = m.DueAt.UTC()
	}
	res, err := q.ExecContext(ctx, s.db.Rebind(`INSERT INTO messages
		(id, community, idempotency_key, fingerprint, member_id, to_email, subject, text_body, html_body, template, vars,
		 kind, channel, announcement_id, status, attempts, lease_until, created_at, due_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (community, idempotency_key) DO NOTHING`),
		m.ID, m.Community, m.IdempotencyKey, m.Fingerprint, m.MemberID, m.To, m.Subject, m.Text, m.HTML, m.Template, string(vars),
		m.Kind.String(), string(m.Channel), m.AnnouncementID, m.Status.String(), m.Attempts, lease, m.CreatedAt, due)
	if err != nil {
		return false, fmt.Errorf("store message %s: %w", m.ID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Claim takes the right to deliver m now. A new idempotency key stores m
// as pending under a lease, runs audited in the same transaction and
// returns it with deliver = true. A known key returns the stored message:
// deliver is false once it was sent, failed, suppressed or given up in
// doubt, and true when an earlier attempt's lease ran out without an
// outcome (with its SendingAt set when that attempt was marked sending:
// in doubt, see domain.InDoubtPolicy). A live lease is
// domain.ErrInProgress; the same key with other content is
// domain.ErrKeyReused.
func (s *Store) Claim(ctx context.Context, m domain.Message, lease time.Duration, audited func(*sql.Tx) error) (stored domain.Message, deliver bool, err error) {
	now := time.Now().UTC()
	m.Attempts = 0 // counted when an outcome is recorded
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		inserted, err := s.insertMessage(ctx, tx, m, now.Add(lease))
		if err != nil {
			return err
		}
		if inserted {
			stored, deliver = m, true
			return audited(tx)
		}
		existing, leaseUntil, err := s.scanOne(tx.QueryRowContext(ctx, s.db.Rebind("SELECT "+messageColumns+
			" FROM messages WHERE community = ? AND idempotency_key = ?"), m.Community, m.IdempotencyKey))
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
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE messages SET lease_until = ?
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

// QueueMessage stores m as pending, due at once, with the event queued
// builds, in tx (a consumer's inbox transaction). A message with the same
// idempotency key is kept and nothing is added (queued = false).
func (s *Store) QueueMessage(ctx context.Context, tx *sql.Tx, m domain.Message, event func(domain.Message) (kafka.Event, error)) (queued bool, err error) {
	if queued, err = s.insertMessage(ctx, tx, m, time.Time{}); err != nil || !queued {
		return false, err
	}
	e, err := event(m)
	if err != nil {
		return false, err
	}
	return true, s.outbox.Append(ctx, tx, e)
}

// Outcome is what became of one delivery attempt.
type Outcome struct {
	ID     string
	Status domain.Status // sent, failed, suppressed, or pending (retry / hold)
	// To, Subject, Text and HTML as sent, kept in the delivery log.
	To, Subject, Text, HTML string
	Reason                  string
	At                      time.Time
	// DueAt is when a pending message is tried again.
	DueAt time.Time
	// Retry counts the attempt (a failed try); a quiet-hours hold does not.
	Retry  bool
	Events []kafka.Event
	// HandedOff says RecordHandOff already stored this sent outcome and
	// its events; Record leaves it alone.
	HandedOff bool
}

// Record stores a batch of outcomes and their events in one transaction;
// the messages' leases and sending marks end. Outcomes RecordHandOff
// stored already are skipped.
func (s *Store) Record(ctx context.Context, outcomes []Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, o := range outcomes {
			var err error
			switch {
			case o.HandedOff:
				// RecordHandOff stored it and its events already.
				continue
			case o.Status == domain.StatusSent:
				_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE messages SET status = ?, sent_at = ?, lease_until = NULL, sending_at = NULL, attempts = attempts + 1,
					to_email = CASE WHEN ? <> '' THEN ? ELSE to_email END,
					subject = CASE WHEN ? <> '' THEN ? ELSE subject END, text_body = CASE WHEN ? <> '' THEN ? ELSE text_body END,
					html_body = CASE WHEN ? <> '' THEN ? ELSE html_body END WHERE id = ? AND status = ?`),
					o.Status.String(), o.At.UTC(), o.To, o.To, o.Subject, o.Subject, o.Text, o.Text, o.HTML, o.HTML, o.ID, domain.StatusPending.String())
			case o.Status == domain.StatusPending:
				attempts := "attempts"
				if o.Retry {
					attempts = "attempts + 1"
				}
				_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE messages SET due_at = ?, lease_until = NULL, sending_at = NULL, failure_reason = ?,
					attempts = `+attempts+` WHERE id = ? AND status = ?`), o.DueAt.UTC(), o.Reason, o.ID, domain.StatusPending.String())
			default:
				_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE messages SET status = ?, failure_reason = ?, lease_until = NULL, sending_at = NULL,
					attempts = attempts + ? WHERE id = ? AND status = ?`), o.Status.String(), o.Reason, boolInt(o.Retry), o.ID, domain.StatusPending.String())
			}
			if err != nil {
				return fmt.Errorf("record outcome of message %s: %w", o.ID, err)
			}
			for _, e := range o.Events {
				if err := s.outbox.Append(ctx, tx, e); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.outbox.Notify()
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
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

// Due claims up to limit pending messages that are due, under a lease, and
// returns them oldest due first.
func (s *Store) Due(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]domain.Message, error) {
	var out []domain.Message
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.db.Rebind(`SELECT id FROM messages WHERE status = ? AND (due_at IS NULL OR due_at <= ?)
			AND (lease_until IS NULL OR lease_until <= ?) ORDER BY due_at, id LIMIT ?`)+s.forUpdate(), domain.StatusPending.String(), now.UTC(), now.UTC(), limit)
		if err != nil {
			return fmt.Errorf("find due messages: %w", err)
		}
		var ids []any
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				_ = rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil || len(ids) == 0 {
			return err
		}
		args := append([]any{now.Add(lease).UTC()}, ids...)
		if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE messages SET lease_until = ? WHERE id IN ("+placeholders(len(ids))+")"), args...); err != nil {
			return fmt.Errorf("lease due messages: %w", err)
		}
		rows, err = tx.QueryContext(ctx, s.db.Rebind("SELECT "+messageColumns+" FROM messages WHERE id IN ("+placeholders(len(ids))+")"), ids...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, _, err := s.scanOne(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}

// StillDue reports, just before a send, whether message m is still pending
// and, for a message needing consent to purpose, whether its member still
// gives it: a withdrawal, erasure or cancellation processed while a batch
// was under way stops the send.
func (s *Store) StillDue(ctx context.Context, m domain.Message, purpose string) (due bool, reason string, err error) {
	var status string
	var consents bool
	err = s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT m.status, EXISTS (SELECT 1 FROM recipient_consents c
		JOIN recipients r ON r.community = c.community AND r.member_id = c.member_id
		WHERE c.community = m.community AND c.member_id = m.member_id AND c.purpose = ? AND r.status NOT IN ('erased', 'left'))
		FROM messages m WHERE m.community = ? AND m.id = ?`), purpose, m.Community, m.ID).Scan(&status, &consents)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, "message deleted", nil
	case err != nil:
		return false, "", fmt.Errorf("recheck message %s: %w", m.ID, err)
	case status != domain.StatusPending.String():
		return false, "message is " + status, nil
	case purpose != "" && !consents:
		return false, domain.ReasonNoConsent, nil
	}
	return true, "", nil
}

// forUpdate skips rows other replicas are claiming, on PostgreSQL.
func (s *Store) forUpdate() string {
	if s.db.Dialect == "postgres" {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// GetMessage returns message id of community.
func (s *Store) GetMessage(ctx context.Context, community, id string) (domain.Message, error) {
	m, _, err := s.scanOne(s.db.QueryRowContext(ctx, s.db.Rebind("SELECT "+messageColumns+" FROM messages WHERE community = ? AND id = ?"), community, id))
	return m, err
}

// Deliveries lists a community's messages newest first, optionally of one
// announcement or member, with ids before beforeID.
func (s *Store) Deliveries(ctx context.Context, community, announcementID, memberID, beforeID string, limit int) ([]domain.Message, error) {
	q := "SELECT " + messageColumns + " FROM messages WHERE community = ?"
	args := []any{community}
	for _, f := range []struct{ column, value string }{{"announcement_id", announcementID}, {"member_id", memberID}} {
		if f.value != "" {
			q += " AND " + f.column + " = ?"
			args = append(args, f.value)
		}
	}
	if beforeID != "" {
		q += " AND id < ?"
		args = append(args, beforeID)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q+" ORDER BY id DESC LIMIT ?"), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []domain.Message
	for rows.Next() {
		m, _, err := s.scanOne(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func (s *Store) scanOne(row scanner) (domain.Message, sql.NullTime, error) {
	var m domain.Message
	var status, kind, channel, vars string
	var due, sentAt, leaseUntil, sendingAt sql.NullTime
	err := row.Scan(&m.ID, &m.Community, &m.IdempotencyKey, &m.Fingerprint, &m.MemberID, &m.To, &m.Subject, &m.Text, &m.HTML,
		&m.Template, &vars, &kind, &channel, &m.AnnouncementID, &status, &m.FailureReason, &m.Attempts, &m.CreatedAt, &due, &sentAt, &leaseUntil,
		&sendingAt, &m.SendingAttempt)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Message{}, leaseUntil, domain.ErrNotFound
	}
	if err != nil {
		return domain.Message{}, leaseUntil, fmt.Errorf("read message: %w", err)
	}
	if m.Status, err = domain.ParseStatus(status); err != nil {
		return domain.Message{}, leaseUntil, err
	}
	if m.Kind, err = domain.ParseKind(kind); err != nil {
		return domain.Message{}, leaseUntil, err
	}
	m.Channel = domain.Channel(channel)
	if vars != "" && vars != "null" {
		if err := json.Unmarshal([]byte(vars), &m.Vars); err != nil {
			return domain.Message{}, leaseUntil, fmt.Errorf("read message %s vars: %w", m.ID, err)
		}
	}
	m.CreatedAt = m.CreatedAt.UTC()
	if due.Valid {
		m.DueAt = due.Time.UTC()
	}
	if sentAt.Valid {
		m.SentAt = sentAt.Time.UTC()
	}
	if sendingAt.Valid {
		m.SendingAt = sendingAt.Time.UTC()
	}
	return m, leaseUntil, nil
}
