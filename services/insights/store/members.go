package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/services/insights/domain"
)

var (
	memberCols = []string{"member_id", "joined_at", "left_at", "rejoined_at", "left_estimated", "erased_at", "level", "level_at", "country_code", "interests",
		"profile_at", "profile_complete", "profile_completed_at", "welcomed_at", "first_event_at", "onboarded_at"}
	memberColumns = strings.Join(memberCols, ", ")
)

type rowScanner interface{ Scan(dest ...any) error }

func scanMember(r rowScanner) (domain.Member, error) {
	var m domain.Member
	var joined, left, rejoined, erased, levelAt, profileAt, completed, welcomed, first, onboarded sql.NullInt64
	var interests string
	err := r.Scan(&m.ID, &joined, &left, &rejoined, &m.LeftEstimated, &erased, &m.Level, &levelAt, &m.CountryCode, &interests, &profileAt,
		&m.ProfileComplete, &completed, &welcomed, &first, &onboarded)
	if err != nil {
		return m, err
	}
	m.JoinedAt, m.LeftAt, m.RejoinedAt, m.ErasedAt, m.LevelAt = fromMS(joined), fromMS(left), fromMS(rejoined), fromMS(erased), fromMS(levelAt)
	m.ProfileAt, m.ProfileCompletedAt, m.WelcomedAt = fromMS(profileAt), fromMS(completed), fromMS(welcomed)
	m.FirstEventAt, m.OnboardedAt = fromMS(first), fromMS(onboarded)
	if interests != "" {
		m.Interests = strings.Split(interests, ",")
	}
	return m, nil
}

func memberValues(community string, m domain.Member) []any {
	return []any{community, m.ID, ms(m.JoinedAt), ms(m.LeftAt), ms(m.RejoinedAt), m.LeftEstimated, ms(m.ErasedAt), m.Level, ms(m.LevelAt), m.CountryCode,
		strings.Join(m.Interests, ","), ms(m.ProfileAt), m.ProfileComplete, ms(m.ProfileCompletedAt), ms(m.WelcomedAt),
		ms(m.FirstEventAt), ms(m.OnboardedAt)}
}

// member loads one member with their activity days; found is false for
// a member not seen yet (the zero member with its id).
func (s *Store) member(ctx context.Context, q querier, community, id string) (domain.Member, bool, error) {
	m, err := scanMember(q.QueryRowContext(ctx, s.db.Rebind("SELECT "+memberColumns+" FROM insights_members WHERE community = ? AND member_id = ?"), community, id))
	found := true
	switch {
	case errors.Is(err, sql.ErrNoRows):
		m, found = domain.Member{ID: id}, false
	case err != nil:
		return m, false, fmt.Errorf("load member %s: %w", id, err)
	}
	loc, err := s.zone(community)
	if err != nil {
		return m, false, err
	}
	rows, err := q.QueryContext(ctx, s.db.Rebind("SELECT occurred_at FROM insights_activities WHERE community = ? AND member_id = ? ORDER BY occurred_at"), community, id)
	if err != nil {
		return m, false, fmt.Errorf("load days of member %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return m, false, err
		}
		if d := domain.DayOf(time.UnixMilli(at), loc); len(m.Days) == 0 || m.Days[len(m.Days)-1] != d {
			m.Days = append(m.Days, d)
		}
	}
	return m, found, rows.Err()
}

func (s *Store) saveMember(ctx context.Context, tx *sql.Tx, community string, m domain.Member) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO insights_members (community, `+memberColumns+`) VALUES `+placeholders(1, 17)+`
		ON CONFLICT (community, member_id) DO UPDATE SET joined_at = excluded.joined_at, left_at = excluded.left_at,
		rejoined_at = excluded.rejoined_at, left_estimated = excluded.left_estimated, erased_at = excluded.erased_at, level = excluded.level, level_at = excluded.level_at,
		country_code = excluded.country_code, interests = excluded.interests, profile_at = excluded.profile_at,
		profile_complete = excluded.profile_complete, profile_completed_at = excluded.profile_completed_at, welcomed_at = excluded.welcomed_at,
		first_event_at = excluded.first_event_at, onboarded_at = excluded.onboarded_at`), memberValues(community, m)...)
	if err != nil {
		return fmt.Errorf("save member %s: %w", m.ID, err)
	}
	return nil
}

// resolve follows a merge: events about a duplicate count for the member
// it was folded into.
func (s *Store) resolve(ctx context.Context, q querier, community, id string) (string, error) {
	var primary string
	err := q.QueryRowContext(ctx, s.db.Rebind("SELECT primary_id FROM insights_merged WHERE community = ? AND duplicate_id = ?"), community, id).Scan(&primary)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return id, nil
	case err != nil:
		return "", fmt.Errorf("resolve member %s: %w", id, err)
	}
	return primary, nil
}

// UpdateMember applies change to member id of community in tx and the
// difference it makes to the buckets. change reports whether it changed
// anything. Changes to a member merged into another count for that one.
func (s *Store) UpdateMember(ctx context.Context, tx *sql.Tx, community, id string, change func(*domain.Member) (bool, error)) error {
	return s.updateMember(ctx, tx, community, id, true, change)
}

// JoinMember is UpdateMember for a member's joining, which a member merged
// into another no longer has: it changes nothing then.
func (s *Store) JoinMember(ctx context.Context, tx *sql.Tx, community, id string, change func(*domain.Member) (bool, error)) error {
	return s.updateMember(ctx, tx, community, id, false, change)
}

func (s *Store) updateMember(ctx context.Context, tx *sql.Tx, community, id string, followMerge bool, change func(*domain.Member) (bool, error)) error {
	loc, err := s.zone(community)
	if err != nil {
		return err
	}
	resolved, err := s.resolve(ctx, tx, community, id)
	switch {
	case err != nil:
		return err
	case resolved != id && !followMerge:
		return nil
	}
	id = resolved
	m, _, err := s.member(ctx, tx, community, id)
	if err != nil {
		return err
	}
	before := m.Contributions(loc)
	if changed, err := change(&m); err != nil || !changed {
		return err
	}
	if err := s.apply(ctx, tx, community, domain.Diff(before, m.Contributions(loc))); err != nil {
		return err
	}
	return s.saveMember(ctx, tx, community, m)
}

// Activity is an entry of the members service's activity ledger.
type Activity struct {
	ID, MemberID, Type string
	At                 time.Time
}

// AddActivity records activity a once (by its id) and, when it falls on
// a new day for its member, what that day adds (activity, cohorts). An
// onboarded activity also dates the member's onboarding.
func (s *Store) AddActivity(ctx context.Context, tx *sql.Tx, community string, a Activity) error {
	loc, err := s.zone(community)
	if err != nil {
		return err
	}
	if a.MemberID, err = s.resolve(ctx, tx, community, a.MemberID); err != nil {
		return err
	}
	m, _, err := s.member(ctx, tx, community, a.MemberID) // its days before this activity
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO insights_activities (community, activity_id, member_id, type, occurred_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (community, activity_id) DO NOTHING`), community, a.ID, a.MemberID, a.Type, a.At.UnixMilli())
	if err != nil {
		return fmt.Errorf("record activity %s: %w", a.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // known already
	}
	before := m.Contributions(loc)
	changed := m.AddDay(domain.DayOf(a.At, loc))
	if a.Type == ActivityOnboarded {
		if at := domain.Earliest(m.OnboardedAt, a.At); !at.Equal(m.OnboardedAt) {
			m.OnboardedAt, changed = at, true
		}
	}
	if !changed {
		return nil
	}
	if err := s.apply(ctx, tx, community, domain.Diff(before, m.Contributions(loc))); err != nil {
		return err
	}
	return s.saveMember(ctx, tx, community, m)
}

// ActivityOnboarded is the activity the onboarding journey records when it
// ends.
const ActivityOnboarded = "onboarded"

// MergeMembers folds duplicate into primary: the duplicate's activities
// become the primary's, the duplicate stops counting, and later events
// about it count for the primary.
func (s *Store) MergeMembers(ctx context.Context, tx *sql.Tx, community, primary, duplicate string) error {
	loc, err := s.zone(community)
	if err != nil {
		return err
	}
	if primary, err = s.resolve(ctx, tx, community, primary); err != nil || primary == duplicate {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO insights_merged (community, duplicate_id, primary_id) VALUES (?, ?, ?)
		ON CONFLICT (community, duplicate_id) DO NOTHING`), community, duplicate, primary); err != nil {
		return fmt.Errorf("record merge of %s: %w", duplicate, err)
	}
	dup, found, err := s.member(ctx, tx, community, duplicate)
	if err != nil || !found {
		return err
	}
	p, _, err := s.member(ctx, tx, community, primary)
	if err != nil {
		return err
	}
	before := dup.Contributions(loc)
	before.Merge(p.Contributions(loc))
	for _, q := range []struct {
		query string
		args  []any
	}{
		{"UPDATE insights_activities SET member_id = ? WHERE community = ? AND member_id = ?", []any{primary, community, duplicate}},
		{"DELETE FROM insights_members WHERE community = ? AND member_id = ?", []any{community, duplicate}},
	} {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(q.query), q.args...); err != nil {
			return fmt.Errorf("merge %s: %w", duplicate, err)
		}
	}
	for _, d := range dup.Days {
		p.AddDay(d)
	}
	p.OnboardedAt = domain.Earliest(p.OnboardedAt, dup.OnboardedAt)
	p.FirstEventAt = domain.Earliest(p.FirstEventAt, dup.FirstEventAt)
	p.WelcomedAt = domain.Earliest(p.WelcomedAt, dup.WelcomedAt)
	if err := s.apply(ctx, tx, community, domain.Diff(before, p.Contributions(loc))); err != nil {
		return err
	}
	return s.saveMember(ctx, tx, community, p)
}
