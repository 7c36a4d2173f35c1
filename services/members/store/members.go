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

// CreateMember stores m — with its tags and, when its consent takes effect
// at once, its first consent record — audits the join and appends its
// events, in one transaction. It returns domain.ErrUnknownCommunity,
// domain.ErrEmailTaken or domain.ErrUnknownReferrer, and then nothing is
// stored or published. Joins that arrive together share the transaction
// and its commit (group commit, see joins.go); each is still stored,
// audited and published as a whole or not at all.
func (s *Store) CreateMember(ctx context.Context, m domain.Member, consent *domain.ConsentRecord, audit JoinAuditor, events ...kafka.Event) error {
	return s.createGrouped(&joinCall{ctx: ctx, m: m, consent: consent, audit: audit, events: events, wake: make(chan bool, 1)})
}

// RepeatJoin handles a public join with the address of a member of
// community: it changes nothing of theirs, and at most once per every it
// appends the events tell returns for them, audited. It reports whether it
// did; an address that belongs to no member (any more) does nothing.
func (s *Store) RepeatJoin(ctx context.Context, community, email string, at time.Time, every time.Duration, audit Auditor,
	tell func(existing domain.Member) ([]kafka.Event, error)) (bool, error) {
	told := false
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		found, err := s.queryMembers(ctx, tx, community, "WHERE community = ? AND email = ? AND status <> ?", community, email, domain.StatusErased.String())
		if err != nil {
			return fmt.Errorf("find member by e-mail: %w", err)
		}
		if len(found) == 0 {
			return nil
		}
		m := found[0]
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE members SET join_repeated_at = ?
			WHERE community = ? AND id = ? AND (join_repeated_at IS NULL OR join_repeated_at <= ?)`),
			at.UTC(), community, m.ID, at.Add(-every).UTC())
		if err != nil {
			return fmt.Errorf("note repeated join of %s: %w", m.ID, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil // told within the last period
		}
		events, err := tell(m)
		if err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, community, "member.join_repeated", "member", m.ID); err != nil {
			return err
		}
		told = true
		return s.appendAll(ctx, tx, events)
	})
	if err != nil {
		return false, err
	}
	if told {
		s.outbox.Notify()
	}
	return told, nil
}

func (s *Store) insertMember(ctx context.Context, tx *sql.Tx, m domain.Member) error {
	if err := s.checkReferrer(ctx, tx, m); err != nil {
		return err
	}
	inserted, err := s.insertMembers(ctx, tx, []domain.Member{m}, []bool{m.EmailConsent})
	if err != nil {
		return err
	}
	if !inserted[m.ID] {
		return domain.ErrEmailTaken
	}
	return s.insertMembersTags(ctx, tx, []domain.Member{m})
}

// checkReferrer returns domain.ErrUnknownReferrer when m joins on the
// referral of someone who is no member of its community.
func (s *Store) checkReferrer(ctx context.Context, tx *sql.Tx, m domain.Member) error {
	if m.Source.Kind != domain.SourceReferral {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.db.Rebind("SELECT count(*) FROM members WHERE community = ? AND id = ? AND status <> ?"),
		m.Community, m.Source.ReferrerID, domain.StatusErased.String()).Scan(&n); err != nil {
		return fmt.Errorf("look up referrer: %w", err)
	}
	if n == 0 {
		return domain.ErrUnknownReferrer
	}
	return nil
}

// UpdateProfile stores the new profile of member m (already validated and
// merged) with its address state, audits it and appends its events, in one
// transaction.
func (s *Store) UpdateProfile(ctx context.Context, m domain.Member, audit Auditor, events ...kafka.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.updateMember(ctx, tx, m); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, m.Community, "member.profile_updated", "member", m.ID); err != nil {
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
		city = ?, region = ?, country_code = ?, motivation = ?, availability_hours = ?, email_verified = ?, pending_email = ?, consent_asked = ?
		WHERE community = ? AND id = ? AND status <> ?`),
		p.Email, p.DisplayName, p.Locale, p.TimeZone, p.Location.City, p.Location.Region, p.Location.CountryCode,
		p.Motivation, p.AvailabilityHours, m.EmailVerified, m.PendingEmail, m.ConsentAsked, m.Community, m.ID, domain.StatusErased.String())
	if db.IsUniqueViolation(err) {
		return domain.ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("update member %s: %w", m.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return domain.ErrNotFound
	}
	return s.writeTags(ctx, tx, m.Community, m.ID, p)
}

// SetStatus moves member id from one status to another (checked again in
// the transaction), audits it as action and appends its events.
func (s *Store) SetStatus(ctx context.Context, community, id string, from, to domain.Status, audit Auditor, action string, events ...kafka.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE members SET status = ? WHERE community = ? AND id = ? AND status = ?"),
			to.String(), community, id, from.String())
		if err != nil {
			return fmt.Errorf("change status of %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return domain.ErrBadTransition // it moved meanwhile
		}
		if err := audit.Record(ctx, tx, community, action, "member", id); err != nil {
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

// Confirmation is what following a confirmation link did to a member.
type Confirmation struct {
	// Before and After are the member around the confirmation.
	Before, After domain.Member
	// Reason is what was confirmed (domain.ConfirmJoin or
	// domain.ConfirmEmailChange); empty when the address was confirmed
	// already and nothing changed.
	Reason string
	// Consent is the consent the join asked for, now in effect; nil when
	// none was asked.
	Consent *domain.ConsentRecord
}

// ConfirmEmail records that the holder of email followed the confirmation
// link of member memberID of community: the address becomes verified (for
// a change, the profile's), the consent the join asked for takes effect,
// and the audit entry and the events events returns are written, all in
// one transaction. Confirming a confirmed address changes nothing; an
// address the member is not waiting to confirm is
// domain.ErrStaleConfirmation, and a change to an address another member
// took meanwhile domain.ErrEmailTaken.
func (s *Store) ConfirmEmail(ctx context.Context, community, memberID, email string, at time.Time, audit Auditor,
	events func(Confirmation) ([]kafka.Event, error)) (Confirmation, error) {
	var c Confirmation
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if c.Before, err = s.getMember(ctx, tx, community, memberID); err != nil {
			return err
		}
		if c.After, c.Reason, err = c.Before.Confirm(email); err != nil || c.Reason == "" {
			return err
		}
		if c.Reason == domain.ConfirmJoin && c.After.ConsentAsked {
			rec, err := domain.NewConsentRecord(memberID, domain.PurposeAnnouncements, true, domain.ConsentSourceDoubleOptIn, domain.DefaultPolicyVersion, at)
			if err != nil {
				return err
			}
			if _, err := s.appendConsent(ctx, tx, community, rec); err != nil {
				return err
			}
			c.Consent, c.After.EmailConsent = &rec, true
		}
		c.After.ConsentAsked = false
		if err := s.updateMember(ctx, tx, c.After); err != nil {
			return err
		}
		evs, err := events(c)
		if err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, community, "member.email_confirmed", "member", memberID); err != nil {
			return err
		}
		if err := s.appendAll(ctx, tx, evs); err != nil {
			return err
		}
		if err := s.afterVerified(ctx, tx, c.After, at); err != nil {
			return err
		}
		c.After, err = s.getMember(ctx, tx, community, memberID)
		return err
	})
	if err != nil {
		return Confirmation{}, err
	}
	if c.Reason != "" {
		s.outbox.Notify()
	}
	return c, nil
}

const memberColumns = `id, community, email, display_name, email_consent, status, joined_at, locale, time_zone, city, region,
	country_code, motivation, availability_hours, source_kind, source_campaign, source_event_id, referrer_id, level, score, last_active_at,
	email_verified, pending_email, consent_asked`

// GetMember returns one member of community, or domain.ErrNotFound.
func (s *Store) GetMember(ctx context.Context, community, id string) (domain.Member, error) {
	return s.getMember(ctx, s.db, community, id)
}

func (s *Store) getMember(ctx context.Context, q querier, community, id string) (domain.Member, error) {
	members, err := s.queryMembers(ctx, q, community, "WHERE community = ? AND id = ?", community, id)
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
		members, err := s.queryMembers(ctx, s.db, community, "WHERE community = ? AND email IN ("+placeholders(len(batch))+")", args...)
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
	members, err := s.queryMembers(ctx, s.db, community, "WHERE community = ? AND id > ? ORDER BY id LIMIT ?", community, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list members of %s: %w", community, err)
	}
	return members, nil
}

// queryMembers reads members of community matching where (which must
// itself hold community = ?), then their tags and roles.
func (s *Store) queryMembers(ctx context.Context, q querier, community, where string, args ...any) ([]domain.Member, error) {
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
	if err := s.loadTags(ctx, q, community, out); err != nil {
		return nil, err
	}
	if err := s.loadRoles(ctx, q, community, out); err != nil {
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
		&sourceKind, &m.Source.Campaign, &m.Source.EventID, &m.Source.ReferrerID, &m.Level, &m.Score, &lastActive,
		&m.EmailVerified, &m.PendingEmail, &m.ConsentAsked)
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

// afterVerified does, in tx, what a member's verified address (confirmed,
// or vouched for by the team) sets off: their referrer is credited with
// the referral, and activity kept unmatched for the address is recorded
// for them.
func (s *Store) afterVerified(ctx context.Context, tx *sql.Tx, m domain.Member, at time.Time) error {
	if !m.EmailVerified {
		return nil
	}
	if err := s.creditReferral(ctx, tx, m, at); err != nil {
		return err
	}
	return s.claimPendingByEmail(ctx, tx, m.Community, m.ID, m.Email)
}
