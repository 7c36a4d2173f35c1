package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/services/insights/domain"
)

// MemberQuery says which members to read.
type MemberQuery struct {
	Segment domain.Segment
	// WithDays reads their activity days too.
	WithDays bool
	// JoinedFrom and JoinedTo, when set, keep members who joined in
	// [JoinedFrom, JoinedTo).
	JoinedFrom, JoinedTo time.Time
}

// Members returns community's members as q says (every member for an
// empty segment), filtered by the roles each holds now.
func (s *Store) Members(ctx context.Context, community string, mq MemberQuery) ([]domain.Member, error) {
	seg := mq.Segment
	held := map[string][]string{}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT member_id, role, assigned_at, revoked_at FROM insights_roles WHERE community = ?"), community)
	if err != nil {
		return nil, fmt.Errorf("read roles: %w", err)
	}
	for rows.Next() {
		var r domain.Role
		var assigned, revoked sql.NullInt64
		if err := rows.Scan(&r.MemberID, &r.Role, &assigned, &revoked); err != nil {
			rows.Close()
			return nil, err
		}
		r.AssignedAt, r.RevokedAt = fromMS(assigned), fromMS(revoked)
		if r.Holds() {
			held[r.MemberID] = append(held[r.MemberID], r.Role)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	q, args := "SELECT "+memberColumns+" FROM insights_members WHERE community = ?", []any{community}
	in := func(col string, vals []string) {
		if len(vals) > 0 {
			q += " AND " + col + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ") + ")"
			for _, v := range vals {
				args = append(args, v)
			}
		}
	}
	in("level", seg.Levels)
	in("country_code", seg.CountryCodes)
	if !mq.JoinedFrom.IsZero() {
		q += " AND joined_at >= ? AND joined_at < ?"
		args = append(args, mq.JoinedFrom.UnixMilli(), mq.JoinedTo.UnixMilli())
	}
	rows, err = s.db.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	var out []domain.Member
	index := map[string]int{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		if seg.Matches(m, held[m.ID]) {
			index[m.ID] = len(out)
			out = append(out, m)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || !mq.WithDays || len(out) == 0 {
		return out, err
	}
	loc, err := s.zone(community)
	if err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, s.db.Rebind("SELECT member_id, occurred_at FROM insights_activities WHERE community = ?"), community)
	if err != nil {
		return nil, fmt.Errorf("read activity days: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			return nil, err
		}
		if i, ok := index[id]; ok {
			out[i].AddDay(domain.DayOf(time.UnixMilli(at), loc))
		}
	}
	return out, rows.Err()
}

// FirstEvents are the joining and first check-in of the joined members
// whose first check-in fell in [from, to).
func (s *Store) FirstEvents(ctx context.Context, community string, from, to time.Time) ([]domain.Member, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT joined_at, first_event_at FROM insights_members
		WHERE community = ? AND first_event_at >= ? AND first_event_at < ?`), community, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("read first events: %w", err)
	}
	defer rows.Close()
	var out []domain.Member
	for rows.Next() {
		var joined sql.NullInt64
		var first int64
		if err := rows.Scan(&joined, &first); err != nil {
			return nil, err
		}
		if joined.Valid {
			out = append(out, domain.Member{JoinedAt: fromMS(joined), FirstEventAt: time.UnixMilli(first).UTC()})
		}
	}
	return out, rows.Err()
}

// Roles are every record of role in community.
func (s *Store) Roles(ctx context.Context, community, role string) ([]domain.Role, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT member_id, tier, assigned_at, revoked_at FROM insights_roles WHERE community = ? AND role = ?"), community, role)
	if err != nil {
		return nil, fmt.Errorf("read roles: %w", err)
	}
	defer rows.Close()
	var out []domain.Role
	for rows.Next() {
		r := domain.Role{Role: role}
		var assigned, revoked sql.NullInt64
		if err := rows.Scan(&r.MemberID, &r.Tier, &assigned, &revoked); err != nil {
			return nil, err
		}
		r.AssignedAt, r.RevokedAt = fromMS(assigned), fromMS(revoked)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ActivitiesOf are the activities of the given types in [from, to) of
// the members who hold or held role.
func (s *Store) ActivitiesOf(ctx context.Context, community, role string, types []string, from, to time.Time) ([]Activity, error) {
	if len(types) == 0 {
		return nil, nil
	}
	types = slices.Compact(slices.Sorted(slices.Values(types)))
	args := []any{community, role}
	for _, t := range types {
		args = append(args, t)
	}
	args = append(args, from.UnixMilli(), to.UnixMilli())
	// CROSS JOIN keeps SQLite's planner to this order — the few role
	// holders first, then their activities by the member index —
	// whatever its statistics say; PostgreSQL reads it as an inner join.
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT a.activity_id, a.member_id, a.type, a.occurred_at FROM insights_roles r
		CROSS JOIN insights_activities a
		WHERE a.community = r.community AND a.member_id = r.member_id AND r.community = ? AND r.role = ? AND a.type IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(types)), ", ")+`)
		AND a.occurred_at >= ? AND a.occurred_at < ?`), args...)
	if err != nil {
		return nil, fmt.Errorf("read activities: %w", err)
	}
	defer rows.Close()
	var out []Activity
	for rows.Next() {
		var a Activity
		var at int64
		if err := rows.Scan(&a.ID, &a.MemberID, &a.Type, &at); err != nil {
			return nil, err
		}
		a.At = time.UnixMilli(at).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// Counts are how many facts of each kind community holds, for the rebuild
// report and tests.
func (s *Store) Counts(ctx context.Context, community string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range factTables {
		var n int64
		if err := s.db.QueryRowContext(ctx, s.db.Rebind("SELECT count(*) FROM "+t+" WHERE community = ?"), community).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		out[strings.TrimPrefix(t, "insights_")] = n
	}
	return out, nil
}
