package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// querier is what reads need from a pool or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// CreateMember stores m — with its tags and, when it consented, its first
// consent record — and appends its events, in one transaction. It returns
// domain.ErrUnknownCommunity, domain.ErrEmailTaken or
// domain.ErrUnknownReferrer, and then nothing is stored or published.
func (s *Store) CreateMember(ctx context.Context, m domain.Member, consent *domain.ConsentRecord, events ...kafka.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		ok, err := s.communityExists(ctx, tx, m.Community)
		if err != nil {
			return err
		}
		if !ok {
			return domain.ErrUnknownCommunity
		}
		if err := s.insertMember(ctx, tx, m); err != nil {
			return err
		}
		if consent != nil {
			if _, err := s.appendConsent(ctx, tx, m.Community, *consent); err != nil {
				return err
			}
		}
		return s.appendAll(ctx, tx, events)
	})
	if err != nil {
		return err
	}
	s.outbox.Notify()
	return nil
}

func (s *Store) insertMember(ctx context.Context, tx *sql.Tx, m domain.Member) error {
	if m.Source.Kind == domain.SourceReferral {
		var n int
		if err := tx.QueryRowContext(ctx, s.db.Rebind("SELECT count(*) FROM members WHERE community = ? AND id = ? AND status <> ?"),
			m.Community, m.Source.ReferrerID, domain.StatusErased.String()).Scan(&n); err != nil {
			return fmt.Errorf("look up referrer: %w", err)
		}
		if n == 0 {
			return domain.ErrUnknownReferrer
		}
	}
	p := m.Profile
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO members
		(id, community, email, display_name, email_consent, status, joined_at, locale, time_zone, city, region, country_code,
		 motivation, availability_hours, source_kind, source_campaign, source_event_id, referrer_id, level, score)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		m.ID, m.Community, p.Email, p.DisplayName, m.EmailConsent, m.Status.String(), m.JoinedAt.UTC(), p.Locale, p.TimeZone,
		p.Location.City, p.Location.Region, p.Location.CountryCode, p.Motivation, p.AvailabilityHours,
		string(m.Source.Kind), m.Source.Campaign, m.Source.EventID, m.Source.ReferrerID, m.Level, m.Score)
	if db.IsUniqueViolation(err) {
		return domain.ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("insert member %s: %w", m.ID, err)
	}
	return s.writeTags(ctx, tx, m.ID, p)
}

// UpdateProfile stores the new profile of member m (already validated and
// merged) and appends its events, in one transaction.
func (s *Store) UpdateProfile(ctx context.Context, m domain.Member, events ...kafka.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.updateMember(ctx, tx, m); err != nil {
			return err
		}
		return s.appendAll(ctx, tx, events)
	})
	if err != nil {
		return err
	}
	s.outbox.Notify()
	return nil
}

func (s *Store) updateMember(ctx context.Context, tx *sql.Tx, m domain.Member) error {
	p := m.Profile
	res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE members SET email = ?, display_name = ?, locale = ?, time_zone = ?,
		city = ?, region = ?, country_code = ?, motivation = ?, availability_hours = ?
		WHERE community = ? AND id = ? AND status <> ?`),
		p.Email, p.DisplayName, p.Locale, p.TimeZone, p.Location.City, p.Location.Region, p.Location.CountryCode,
		p.Motivation, p.AvailabilityHours, m.Community, m.ID, domain.StatusErased.String())
	if db.IsUniqueViolation(err) {
		return domain.ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("update member %s: %w", m.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return domain.ErrNotFound
	}
	return s.writeTags(ctx, tx, m.ID, p)
}

// SetStatus moves member id from one status to another (checked again in
// the transaction) and appends its events.
func (s *Store) SetStatus(ctx context.Context, community, id string, from, to domain.Status, events ...kafka.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE members SET status = ? WHERE community = ? AND id = ? AND status = ?"),
			to.String(), community, id, from.String())
		if err != nil {
			return fmt.Errorf("change status of %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return domain.ErrBadTransition // it moved meanwhile
		}
		return s.appendAll(ctx, tx, events)
	})
	if err != nil {
		return err
	}
	s.outbox.Notify()
	return nil
}

const memberColumns = `id, community, email, display_name, email_consent, status, joined_at, locale, time_zone, city, region,
	country_code, motivation, availability_hours, source_kind, source_campaign, source_event_id, referrer_id, level, score, last_active_at`

// GetMember returns one member of community, or domain.ErrNotFound.
func (s *Store) GetMember(ctx context.Context, community, id string) (domain.Member, error) {
	return s.getMember(ctx, s.db, community, id)
}

func (s *Store) getMember(ctx context.Context, q querier, community, id string) (domain.Member, error) {
	members, err := s.queryMembers(ctx, q, "WHERE community = ? AND id = ?", community, id)
	if err != nil {
		return domain.Member{}, fmt.Errorf("get member %s: %w", id, err)
	}
	if len(members) == 0 {
		return domain.Member{}, domain.ErrNotFound
	}
	return members[0], nil
}

// FindByEmails returns the members of community with these addresses, by
// address.
func (s *Store) FindByEmails(ctx context.Context, community string, emails []string) (map[string]domain.Member, error) {
	out := map[string]domain.Member{}
	for start := 0; start < len(emails); start += 500 {
		batch := emails[start:min(start+500, len(emails))]
		args := []any{community}
		for _, e := range batch {
			args = append(args, e)
		}
		members, err := s.queryMembers(ctx, s.db, "WHERE community = ? AND email IN ("+placeholders(len(batch))+")", args...)
		if err != nil {
			return nil, fmt.Errorf("find members by e-mail: %w", err)
		}
		for _, m := range members {
			out[m.Email] = m
		}
	}
	return out, nil
}

// ListMembers returns up to limit members of community with ids after
// afterID (empty for the first page), in id order, which is join order.
func (s *Store) ListMembers(ctx context.Context, community, afterID string, limit int) ([]domain.Member, error) {
	members, err := s.queryMembers(ctx, s.db, "WHERE community = ? AND id > ? ORDER BY id LIMIT ?", community, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list members of %s: %w", community, err)
	}
	return members, nil
}

// queryMembers reads members matching where, then their tags and roles.
func (s *Store) queryMembers(ctx context.Context, q querier, where string, args ...any) ([]domain.Member, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind("SELECT "+memberColumns+" FROM members "+where), args...)
	if err != nil {
		return nil, err
	}
	var out []domain.Member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			_ = rows.Close()
			return nil, err
		}
		out = append(out, m)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	if err := s.loadTags(ctx, q, out); err != nil {
		return nil, err
	}
	if err := s.loadRoles(ctx, q, out); err != nil {
		return nil, err
	}
	return out, nil
}

func scanMember(row interface{ Scan(...any) error }) (domain.Member, error) {
	var m domain.Member
	var status, sourceKind string
	var lastActive sql.NullTime
	p := &m.Profile
	err := row.Scan(&m.ID, &m.Community, &p.Email, &p.DisplayName, &m.EmailConsent, &status, &m.JoinedAt, &p.Locale, &p.TimeZone,
		&p.Location.City, &p.Location.Region, &p.Location.CountryCode, &p.Motivation, &p.AvailabilityHours,
		&sourceKind, &m.Source.Campaign, &m.Source.EventID, &m.Source.ReferrerID, &m.Level, &m.Score, &lastActive)
	if err != nil {
		return m, err
	}
	if m.Status, err = domain.ParseStatus(status); err != nil {
		return m, err
	}
	m.Source.Kind = domain.SourceKind(sourceKind)
	m.JoinedAt = m.JoinedAt.UTC()
	if lastActive.Valid {
		m.LastActiveAt = lastActive.Time.UTC()
	}
	return m, nil
}

// appendAll appends events to the outbox in tx.
func (s *Store) appendAll(ctx context.Context, tx *sql.Tx, events []kafka.Event) error {
	for _, e := range events {
		if err := s.outbox.Append(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
