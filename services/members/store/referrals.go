package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// ReferralCode returns memberID's referral code of community, issuing one
// on first use (audited); an erased member has none.
func (s *Store) ReferralCode(ctx context.Context, community, memberID string, audit Auditor) (string, error) {
	var code string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var current sql.NullString
		var status string
		err := tx.QueryRowContext(ctx, s.db.Rebind("SELECT referral_code, status FROM members WHERE community = ? AND id = ?"), community, memberID).
			Scan(&current, &status)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read referral code of %s: %w", memberID, err)
		}
		if status == domain.StatusErased.String() {
			return domain.ErrErased
		}
		if current.Valid {
			code = current.String
			return nil
		}
		for range 5 {
			fresh, err := newReferralCode()
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, s.db.Rebind("UPDATE members SET referral_code = ? WHERE community = ? AND id = ? AND referral_code IS NULL"),
				fresh, community, memberID)
			if db.IsUniqueViolation(err) {
				continue // taken by chance (one in 2^60): draw again
			}
			if err != nil {
				return fmt.Errorf("issue referral code of %s: %w", memberID, err)
			}
			code = fresh
			return audit.Record(ctx, tx, community, "referral.code_issued", "member", memberID)
		}
		return errors.New("could not draw a free referral code")
	})
	return code, err
}

// newReferralCode draws 12 characters of [a-z2-7]: 60 random bits.
func newReferralCode() (string, error) {
	raw := make([]byte, 8)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("draw referral code: %w", err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))[:12], nil
}

// Referrer returns the member of community whose referral code code is;
// domain.ErrUnknownReferrer when none is, or they left or were erased.
func (s *Store) Referrer(ctx context.Context, community, code string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT id FROM members WHERE community = ? AND referral_code = ?
		AND status NOT IN ('erased', 'left')`), community, code).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", domain.ErrUnknownReferrer
	}
	if err != nil {
		return "", fmt.Errorf("find referrer: %w", err)
	}
	return id, nil
}

// Referral is a member someone referred.
type Referral struct {
	MemberID    string
	DisplayName string
	JoinedAt    time.Time
	Counted     bool
}

// Referrals pages through the members referrerID of community referred,
// newest first (before a join time and id, when given), with how many there
// are in all and how many counted.
func (s *Store) Referrals(ctx context.Context, community, referrerID string, before time.Time, beforeID string, limit int) ([]Referral, int64, int64, error) {
	where, args := "m.community = ? AND m.referrer_id = ? AND m.referrer_id <> '' AND m.source_kind = 'referral'", []any{community, referrerID}
	counted := `EXISTS (SELECT 1 FROM activities a WHERE a.community = m.community AND a.source_event_id = 'referral/' || m.id)`
	var total, countedN int64
	if err := s.db.QueryRowContext(ctx, s.db.Rebind("SELECT count(*), coalesce(sum(CASE WHEN "+counted+" THEN 1 ELSE 0 END), 0) FROM members m WHERE "+where),
		args...).Scan(&total, &countedN); err != nil {
		return nil, 0, 0, fmt.Errorf("count referrals of %s: %w", referrerID, err)
	}
	if !before.IsZero() {
		where, args = where+" AND (m.joined_at < ? OR (m.joined_at = ? AND m.id < ?))", append(args, before.UTC(), before.UTC(), beforeID)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT m.id, m.display_name, m.joined_at, "+counted+" FROM members m WHERE "+where+
		" ORDER BY m.joined_at DESC, m.id DESC LIMIT ?"), append(args, limit)...)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("list referrals of %s: %w", referrerID, err)
	}
	defer rows.Close()
	var out []Referral
	for rows.Next() {
		var r Referral
		if err := rows.Scan(&r.MemberID, &r.DisplayName, &r.JoinedAt, &r.Counted); err != nil {
			return nil, 0, 0, err
		}
		r.JoinedAt = r.JoinedAt.UTC()
		out = append(out, r)
	}
	return out, total, countedN, rows.Err()
}

// referralKey is the source event id of the referred_member activity a
// newcomer gives their referrer: one per newcomer, however often their
// address is confirmed.
func referralKey(newcomerID string) string { return "referral/" + newcomerID }

// creditReferral gives the referrer of newcomer (a member whose address is
// now verified, or was vouched for) their referred_member activity, once,
// in tx. A newcomer who was not referred, or whose referrer was erased,
// credits nobody.
func (s *Store) creditReferral(ctx context.Context, tx *sql.Tx, newcomer domain.Member, at time.Time) error {
	if newcomer.Source.Kind != domain.SourceReferral || newcomer.Source.ReferrerID == "" || !newcomer.EmailVerified {
		return nil
	}
	if s.levelEvents == nil {
		return errNoLevelEvents
	}
	referrer, err := s.standing(ctx, tx, newcomer.Community, newcomer.Source.ReferrerID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if referrer.Status == domain.StatusErased {
		return nil
	}
	settings, err := s.settings(ctx, tx, newcomer.Community)
	if err != nil {
		return err
	}
	a := domain.Activity{ID: uuid.Must(uuid.NewV7()).String(), Community: newcomer.Community, MemberID: referrer.ID, Type: domain.ActivityReferredMember,
		OccurredAt: at.UTC().Truncate(time.Microsecond), SourceEventID: referralKey(newcomer.ID),
		Properties: map[string]string{"referred_member_id": newcomer.ID}}
	recorded, err := s.recordTx(ctx, tx, &referrer, a, s.levelEvents)
	if err != nil || !recorded {
		return err
	}
	_, err = s.rescoreAndPublish(ctx, tx, referrer, settings, s.levelEvents, at)
	return err
}
