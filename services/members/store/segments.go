package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// plan is how a WHERE clause asks for a member's tags, roles and
// consents.
type plan int

const (
	// correlated probes each candidate member's own rows: cheapest when
	// a column of members narrows them first (planFor).
	correlated plan = iota
	// sets reads each condition's member ids from one (value, community,
	// member_id) index and looks only those members up, from the
	// covering (community, id, status) index: bounded by the matches.
	sets
)

// where turns a filter into a WHERE clause over members m.
func (s *Store) where(community string, f domain.Filter, p plan) (string, []any) {
	clauses := []string{"m.community = ?", "m.status <> ?"}
	args := []any{community, domain.StatusErased.String()}
	in := func(column string, vals []string) {
		if len(vals) == 0 {
			return
		}
		clauses = append(clauses, column+" IN ("+placeholders(len(vals))+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	exists := func(table, column string, vals []string) {
		if len(vals) == 0 {
			return
		}
		if p == sets {
			clauses = append(clauses, "m.id IN (SELECT t.member_id FROM "+table+" t WHERE t."+column+" IN ("+placeholders(len(vals))+") AND t.community = ?)")
		} else {
			clauses = append(clauses, "EXISTS (SELECT 1 FROM "+table+" t WHERE t.member_id = m.id AND t."+column+" IN ("+placeholders(len(vals))+") AND t.community = ?)")
		}
		for _, v := range vals {
			args = append(args, v)
		}
		args = append(args, community)
	}
	exists("member_interests", "interest", f.Interests)
	exists("member_skills", "skill", f.Skills)
	exists("member_goals", "goal", f.Goals)
	exists("member_roles", "role", f.Roles)
	in("m.country_code", f.CountryCodes)
	in("m.region", f.Regions)
	in("m.city", f.Cities)
	in("m.level", f.Levels)
	if len(f.Statuses) > 0 {
		names := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			names[i] = st.String()
		}
		in("m.status", names)
	}
	for _, purpose := range f.Consents {
		if p == sets {
			clauses = append(clauses, "m.id IN (SELECT c.member_id FROM consent_current c WHERE c.purpose = ? AND c.granted = ? AND c.community = ?)")
		} else {
			clauses = append(clauses, "EXISTS (SELECT 1 FROM consent_current c WHERE c.member_id = m.id AND c.purpose = ? AND c.granted = ? AND c.community = ?)")
		}
		args = append(args, purpose, true, community)
	}
	bound := func(column, op string, t time.Time) {
		if !t.IsZero() {
			clauses = append(clauses, column+" "+op+" ?")
			args = append(args, t.UTC())
		}
	}
	if f.Search.Prefix != "" {
		// The matching terms give the member ids, from their index.
		from, to := f.Search.Range()
		clauses = append(clauses, "m.id IN (SELECT st.member_id FROM member_search_terms st WHERE st.term >= ? AND st.term < ? AND st.community = ?)")
		args = append(args, from, to, community)
	}
	bound("m.joined_at", ">=", f.JoinedAfter)
	bound("m.joined_at", "<", f.JoinedBefore)
	bound("m.last_active_at", ">=", f.LastActiveAfter)
	if !f.LastActiveBefore.IsZero() {
		clauses = append(clauses, "(m.last_active_at IS NULL OR m.last_active_at < ?)")
		args = append(args, f.LastActiveBefore.UTC())
	}
	return "WHERE " + strings.Join(clauses, " AND "), args
}

// CountSegment counts the members f selects. It reads as little as the
// filter allows: a filter of one tag list alone is counted from that
// list's index (an erased member holds no tags, and every tag row belongs
// to a stored member), a filter of tags, roles and consents alone from
// their indexes, and one narrowing members' own columns by walking those.
func (s *Store) CountSegment(ctx context.Context, community string, f domain.Filter) (int64, error) {
	query, args := s.countQuery(community, f)
	var n int64
	if err := s.db.QueryRowContext(ctx, s.db.Rebind(query), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count segment: %w", err)
	}
	return n, nil
}

func (s *Store) countQuery(community string, f domain.Filter) (string, []any) {
	if planFor(f) == sets && len(f.Statuses)+len(f.Roles)+len(f.Consents) == 0 && f.Search.Prefix == "" {
		type tagList struct {
			table, column string
			vals          []string
		}
		var lists []tagList
		for _, l := range []tagList{{"member_interests", "interest", f.Interests}, {"member_skills", "skill", f.Skills}, {"member_goals", "goal", f.Goals}} {
			if len(l.vals) > 0 {
				lists = append(lists, l)
			}
		}
		if len(lists) == 1 {
			l := lists[0]
			args := make([]any, 0, len(l.vals)+1)
			for _, v := range l.vals {
				args = append(args, v)
			}
			args = append(args, community)
			return "SELECT count(DISTINCT t.member_id) FROM " + l.table + " t WHERE t." + l.column +
				" IN (" + placeholders(len(l.vals)) + ") AND t.community = ?", args
		}
	}
	where, args := s.where(community, f, planFor(f))
	return "SELECT count(*) FROM members m " + where, args
}

// planFor chooses how a filter's tags, roles and consents are looked up:
// a filter on columns of members other than status (which the sets plan
// reads from its covering index) narrows members best from their own
// indexes, probing each candidate's rows; any other filter reads the
// member ids of each condition, which is bounded by the matches rather
// than by the community's size.
func planFor(f domain.Filter) plan {
	if len(f.CountryCodes)+len(f.Regions)+len(f.Cities)+len(f.Levels) > 0 ||
		!f.JoinedAfter.IsZero() || !f.JoinedBefore.IsZero() || !f.LastActiveAfter.IsZero() || !f.LastActiveBefore.IsZero() {
		return correlated
	}
	return sets
}

// SegmentMembers returns up to limit members f selects with ids after
// afterID, in id order.
func (s *Store) SegmentMembers(ctx context.Context, community string, f domain.Filter, afterID string, limit int) ([]domain.Member, error) {
	where, args := s.where(community, f, planFor(f))
	where = strings.Replace(where, "WHERE ", "WHERE m.id > ? AND ", 1)
	args = append([]any{afterID}, args...)
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+prefixed("m.", memberColumns)+" FROM members m "+where+" ORDER BY m.id LIMIT ?"), args...)
	if err != nil {
		return nil, fmt.Errorf("list segment: %w", err)
	}
	defer rows.Close()
	var out []domain.Member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	return out, s.loadTags(ctx, s.db, community, out)
}

func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// Report describes the members f selects.
func (s *Store) Report(ctx context.Context, community string, f domain.Filter, at time.Time) (domain.Report, error) {
	where, args := s.where(community, f, correlated)
	var r domain.Report
	var meanAvail sql.NullFloat64
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT count(*),
		coalesce(sum(CASE WHEN m.motivation <> '' THEN 1 ELSE 0 END), 0),
		avg(CASE WHEN m.availability_hours > 0 THEN m.availability_hours END)
		FROM members m `+where), args...).Scan(&r.Members, &r.WithMotivation, &meanAvail)
	if err != nil {
		return r, fmt.Errorf("report: %w", err)
	}
	r.MeanAvailability = meanAvail.Float64
	buckets := func(query string, extra ...any) ([]domain.Bucket, error) {
		rows, err := s.db.QueryContext(ctx, s.db.Rebind(query), append(extra, args...)...)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		defer rows.Close()
		var out []domain.Bucket
		for rows.Next() {
			var b domain.Bucket
			if err := rows.Scan(&b.Value, &b.Count); err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		return out, rows.Err()
	}
	tagQuery := func(table, column string) string {
		return "SELECT t." + column + ", count(*) FROM " + table + " t JOIN members m ON m.community = t.community AND m.id = t.member_id " + where +
			" GROUP BY t." + column + " ORDER BY count(*) DESC, t." + column + " LIMIT 50"
	}
	columnQuery := func(column string) string {
		return "SELECT " + column + ", count(*) FROM members m " + where + " AND " + column + " <> '' GROUP BY " + column +
			" ORDER BY count(*) DESC, " + column + " LIMIT 50"
	}
	if r.Interests, err = buckets(tagQuery("member_interests", "interest")); err != nil {
		return r, err
	}
	if r.Skills, err = buckets(tagQuery("member_skills", "skill")); err != nil {
		return r, err
	}
	if r.Goals, err = buckets(tagQuery("member_goals", "goal")); err != nil {
		return r, err
	}
	if r.Countries, err = buckets(columnQuery("m.country_code")); err != nil {
		return r, err
	}
	if r.Regions, err = buckets(columnQuery("m.region")); err != nil {
		return r, err
	}
	if r.Levels, err = buckets(columnQuery("m.level")); err != nil {
		return r, err
	}
	recency := `SELECT CASE
		WHEN m.last_active_at IS NULL THEN 'never'
		WHEN m.last_active_at >= ? THEN '7d'
		WHEN m.last_active_at >= ? THEN '30d'
		WHEN m.last_active_at >= ? THEN '90d'
		ELSE 'older' END AS bucket, count(*) FROM members m ` + where + " GROUP BY bucket ORDER BY bucket"
	r.Recency, err = buckets(recency, at.AddDate(0, 0, -7).UTC(), at.AddDate(0, 0, -30).UTC(), at.AddDate(0, 0, -90).UTC())
	return r, err
}

// storedFilter is the JSON form of a saved filter.
type storedFilter struct {
	domain.Filter
	StatusNames []string `json:"status_names"`
}

// SaveSegment stores a named filter and audits it, in one transaction; a
// name is unique per community.
func (s *Store) SaveSegment(ctx context.Context, seg domain.Segment, audit Auditor) error {
	sf := storedFilter{Filter: seg.Filter}
	for _, st := range seg.Filter.Statuses {
		sf.StatusNames = append(sf.StatusNames, st.String())
	}
	sf.Statuses = nil
	raw, err := json.Marshal(sf)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.db.Rebind("INSERT INTO segments (id, community, name, filter, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)"),
			seg.ID, seg.Community, seg.Name, string(raw), seg.CreatedAt, seg.CreatedBy)
		if db.IsUniqueViolation(err) {
			return domain.ErrSegmentNameTaken
		}
		if err != nil {
			return fmt.Errorf("save segment: %w", err)
		}
		return audit.Record(ctx, tx, seg.Community, "segment.created", "segment", seg.ID)
	})
}

// Segments lists a community's segments by name.
func (s *Store) Segments(ctx context.Context, community string) ([]domain.Segment, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT id, community, name, filter, created_at, created_by FROM segments WHERE community = ? ORDER BY name"), community)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	defer rows.Close()
	var out []domain.Segment
	for rows.Next() {
		seg, err := scanSegment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, seg)
	}
	return out, rows.Err()
}

// Segment returns one segment, or domain.ErrSegmentNotFound.
func (s *Store) Segment(ctx context.Context, community, id string) (domain.Segment, error) {
	seg, err := scanSegment(s.db.QueryRowContext(ctx, s.db.Rebind("SELECT id, community, name, filter, created_at, created_by FROM segments WHERE community = ? AND id = ?"), community, id))
	if errors.Is(err, sql.ErrNoRows) {
		return seg, domain.ErrSegmentNotFound
	}
	return seg, err
}

// DeleteSegment removes segment id of community and audits it, in one
// transaction; domain.ErrSegmentNotFound when the community has no such
// segment.
func (s *Store) DeleteSegment(ctx context.Context, community, id string, audit Auditor) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM segments WHERE community = ? AND id = ?"), community, id)
		if err != nil {
			return fmt.Errorf("delete segment: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return domain.ErrSegmentNotFound
		}
		return audit.Record(ctx, tx, community, "segment.deleted", "segment", id)
	})
}

func scanSegment(row interface{ Scan(...any) error }) (domain.Segment, error) {
	var seg domain.Segment
	var raw string
	if err := row.Scan(&seg.ID, &seg.Community, &seg.Name, &raw, &seg.CreatedAt, &seg.CreatedBy); err != nil {
		return seg, err
	}
	var sf storedFilter
	if err := json.Unmarshal([]byte(raw), &sf); err != nil {
		return seg, fmt.Errorf("decode segment %s: %w", seg.ID, err)
	}
	seg.Filter = sf.Filter
	for _, name := range sf.StatusNames {
		st, err := domain.ParseStatus(name)
		if err != nil {
			return seg, err
		}
		seg.Filter.Statuses = append(seg.Filter.Statuses, st)
	}
	seg.CreatedAt = seg.CreatedAt.UTC()
	return seg, nil
}
