package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// Suppression is an address that receives nothing from the community.
type Suppression struct {
	Email, Reason string
	CreatedAt     time.Time
}

// Suppress adds an address to the community's suppression list.
func (s *Store) Suppress(ctx context.Context, q querier, community, email, reason string) error {
	_, err := q.ExecContext(ctx, s.db.Rebind(`INSERT INTO suppressions (community, email, reason, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (community, email) DO NOTHING`), community, strings.ToLower(email), reason, time.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return fmt.Errorf("suppress address: %w", err)
	}
	return nil
}

// SuppressedAmong returns which of emails are suppressed in community.
func (s *Store) SuppressedAmong(ctx context.Context, community string, emails []string) (map[string]bool, error) {
	out := map[string]bool{}
	for start := 0; start < len(emails); start += 500 {
		batch := emails[start:min(start+500, len(emails))]
		args := []any{community}
		for _, e := range batch {
			args = append(args, strings.ToLower(e))
		}
		rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT email FROM suppressions WHERE community = ? AND email IN ("+placeholders(len(batch))+")"), args...)
		if err != nil {
			return nil, fmt.Errorf("read suppressions: %w", err)
		}
		for rows.Next() {
			var e string
			if err := rows.Scan(&e); err != nil {
				_ = rows.Close()
				return nil, err
			}
			out[e] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Suppressions lists a community's suppressed addresses.
func (s *Store) Suppressions(ctx context.Context, community string) ([]Suppression, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT email, reason, created_at FROM suppressions WHERE community = ? ORDER BY email"), community)
	if err != nil {
		return nil, fmt.Errorf("list suppressions: %w", err)
	}
	defer rows.Close()
	var out []Suppression
	for rows.Next() {
		var sp Suppression
		if err := rows.Scan(&sp.Email, &sp.Reason, &sp.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, rows.Err()
}

// Unsuppress removes an address from community's list and runs audited,
// in one transaction; an address not on the list changes nothing and is
// not audited.
func (s *Store) Unsuppress(ctx context.Context, community, email string, audited func(*sql.Tx) error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM suppressions WHERE community = ? AND email = ?"), community, strings.ToLower(email))
		if err != nil {
			return fmt.Errorf("remove suppression: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return audited(tx)
	})
}

// BounceMessage marks sent message id bounced and, for a hard bounce,
// suppresses its address — with the events, in one transaction. It
// returns the message as it was.
func (s *Store) BounceMessage(ctx context.Context, community, id string, hard bool, reason string, events func(domain.Message) ([]kafka.Event, error),
	audited func(*sql.Tx) error) (domain.Message, error) {
	var m domain.Message
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		m, _, err = s.scanOne(tx.QueryRowContext(ctx, s.db.Rebind("SELECT "+messageColumns+" FROM messages WHERE community = ? AND id = ?"), community, id))
		if err != nil {
			return err
		}
		if m.Status != domain.StatusSent {
			return domain.ErrNotSent
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE messages SET status = ?, failure_reason = ? WHERE community = ? AND id = ?"),
			domain.StatusBounced.String(), reason, community, id); err != nil {
			return fmt.Errorf("bounce message %s: %w", id, err)
		}
		if hard && m.To != "" {
			if err := s.Suppress(ctx, tx, community, m.To, "hard-bounce"); err != nil {
				return err
			}
		}
		evs, err := events(m)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := s.outbox.Append(ctx, tx, e); err != nil {
				return err
			}
		}
		return audited(tx)
	})
	if err != nil {
		return domain.Message{}, err
	}
	s.outbox.Notify()
	return m, nil
}
