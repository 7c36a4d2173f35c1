package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// querier is what reads need from a pool or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// CreateMember stores m and appends joined to the outbox in one
// transaction. It returns domain.ErrUnknownCommunity or
// domain.ErrEmailTaken, and then nothing is stored or published.
func (s *Store) CreateMember(ctx context.Context, m domain.Member, joined kafka.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		ok, err := s.communityExists(ctx, tx, m.Community)
		if err != nil {
			return err
		}
		if !ok {
			return domain.ErrUnknownCommunity
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO members
			(id, community, email, display_name, email_consent, status, joined_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			m.ID, m.Community, m.Email, m.DisplayName, m.EmailConsent, m.Status.String(), m.JoinedAt.UTC())
		if db.IsUniqueViolation(err) {
			return domain.ErrEmailTaken
		}
		if err != nil {
			return fmt.Errorf("insert member %s: %w", m.ID, err)
		}
		for _, interest := range m.Interests {
			if _, err := tx.ExecContext(ctx, s.db.Rebind("INSERT INTO member_interests (member_id, interest) VALUES (?, ?)"), m.ID, interest); err != nil {
				return fmt.Errorf("insert interests of member %s: %w", m.ID, err)
			}
		}
		return s.outbox.Append(ctx, tx, joined)
	})
	if err != nil {
		return err
	}
	s.outbox.Notify()
	return nil
}

const memberColumns = "id, community, email, display_name, email_consent, status, joined_at"

// GetMember returns one member of community, or domain.ErrNotFound.
func (s *Store) GetMember(ctx context.Context, community, id string) (domain.Member, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+memberColumns+" FROM members WHERE community = ? AND id = ?"), community, id)
	if err != nil {
		return domain.Member{}, fmt.Errorf("get member %s: %w", id, err)
	}
	members, err := s.scanMembers(ctx, rows)
	if err != nil {
		return domain.Member{}, fmt.Errorf("get member %s: %w", id, err)
	}
	if len(members) == 0 {
		return domain.Member{}, domain.ErrNotFound
	}
	return members[0], nil
}

// ListMembers returns up to limit members of community with ids after
// afterID (empty for the first page), in id order, which is join order.
func (s *Store) ListMembers(ctx context.Context, community, afterID string, limit int) ([]domain.Member, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+memberColumns+
		" FROM members WHERE community = ? AND id > ? ORDER BY id LIMIT ?"), community, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list members of %s: %w", community, err)
	}
	members, err := s.scanMembers(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("list members of %s: %w", community, err)
	}
	return members, nil
}

// scanMembers reads member rows and then their interests.
func (s *Store) scanMembers(ctx context.Context, rows *sql.Rows) ([]domain.Member, error) {
	var out []domain.Member
	index := map[string]int{}
	for rows.Next() {
		var m domain.Member
		var status string
		if err := rows.Scan(&m.ID, &m.Community, &m.Email, &m.DisplayName, &m.EmailConsent, &status, &m.JoinedAt); err != nil {
			_ = rows.Close()
			return nil, err
		}
		st, err := domain.ParseStatus(status)
		if err != nil {
			_ = rows.Close()
			return nil, err
		}
		m.Status, m.JoinedAt = st, m.JoinedAt.UTC()
		index[m.ID] = len(out)
		out = append(out, m)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]any, 0, len(out))
	for _, m := range out {
		ids = append(ids, m.ID)
	}
	placeholders := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
	irows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT member_id, interest FROM member_interests WHERE member_id IN ("+placeholders+") ORDER BY member_id, interest"), ids...)
	if err != nil {
		return nil, err
	}
	defer irows.Close()
	for irows.Next() {
		var id, interest string
		if err := irows.Scan(&id, &interest); err != nil {
			return nil, err
		}
		i := index[id]
		out[i].Interests = append(out[i].Interests, interest)
	}
	return out, irows.Err()
}
