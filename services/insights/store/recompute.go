package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kinshiphq/kinship/internal/db"

	"github.com/kinshiphq/kinship/services/insights/domain"
)

// factTables hold what the insights service learned, per community.
var factTables = []string{"insights_members", "insights_merged", "insights_activities", "insights_roles", "insights_role_changes",
	"insights_occurrences", "insights_attendance", "insights_messages", "insights_unsubscribes", "insights_partners",
	"insights_partner_moves", "insights_agreements", "insights_contributions", "insights_buckets"}

// Wipe forgets every fact and bucket of community in tx (goals and sent
// reports stay, and so do the ambassador nominations: the worker forgets
// ended workflows after its namespace's retention, so a rebuild updates
// the nominations it reads again and keeps the others).
func (s *Store) Wipe(ctx context.Context, tx *sql.Tx, community string) error {
	for _, t := range factTables {
		if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM "+t+" WHERE community = ?"), community); err != nil {
			return fmt.Errorf("wipe %s: %w", t, err)
		}
	}
	return nil
}

// Recompute derives, in tx, every bucket of community from the facts,
// replacing what was there (members' onboarding steps are kept with them:
// times that no time zone moves). It reads each table whole before
// writing, so it holds no cursor open while it writes.
func (s *Store) Recompute(ctx context.Context, tx *sql.Tx, community string) error {
	loc, err := s.zone(community)
	if err != nil {
		return err
	}
	members := map[string]*domain.Member{}
	if err := s.each(ctx, tx, "SELECT "+memberColumns+" FROM insights_members WHERE community = ?", community, func(r *sql.Rows) error {
		m, err := scanMember(r)
		members[m.ID] = &m
		return err
	}); err != nil {
		return err
	}
	get := func(id string) *domain.Member {
		m, ok := members[id]
		if !ok {
			m = &domain.Member{ID: id}
			members[id] = m
		}
		return m
	}
	if err := s.each(ctx, tx, "SELECT member_id, occurred_at FROM insights_activities WHERE community = ?", community, func(r *sql.Rows) error {
		var id string
		var at int64
		if err := r.Scan(&id, &at); err != nil {
			return err
		}
		get(id).AddDay(domain.DayOf(time.UnixMilli(at), loc))
		return nil
	}); err != nil {
		return err
	}
	out := domain.Deltas{}
	occurrences := map[string]domain.Occurrence{}
	if err := s.each(ctx, tx, "SELECT "+occurrenceColumns+" FROM insights_occurrences WHERE community = ?", community, func(r *sql.Rows) error {
		o, err := scanOccurrence(r)
		occurrences[o.ID] = o
		out.Merge(o.Contributions(loc))
		return err
	}); err != nil {
		return err
	}
	if err := s.each(ctx, tx, "SELECT "+attendanceColumns+" FROM insights_attendance WHERE community = ?", community, func(r *sql.Rows) error {
		a, err := scanAttendance(r)
		if err != nil {
			return err
		}
		out.Merge(a.Contributions(occurrences[a.OccurrenceID], loc))
		return nil
	}); err != nil {
		return err
	}
	if err := s.each(ctx, tx, "SELECT message_id, member_id, channel, idempotency_key, sent_at, bounced_at, failed_at FROM insights_messages WHERE community = ?", community, func(r *sql.Rows) error {
		var m domain.Message
		var sent, bounced, failed sql.NullInt64
		if err := r.Scan(&m.ID, &m.MemberID, &m.Channel, &m.IdempotencyKey, &sent, &bounced, &failed); err != nil {
			return err
		}
		m.SentAt, m.BouncedAt, m.FailedAt = fromMS(sent), fromMS(bounced), fromMS(failed)
		out.Merge(m.Contributions(loc))
		return nil
	}); err != nil {
		return err
	}
	if err := s.each(ctx, tx, "SELECT member_id, purpose, occurred_at FROM insights_unsubscribes WHERE community = ?", community, func(r *sql.Rows) error {
		var u domain.Unsubscribe
		var at int64
		err := r.Scan(&u.MemberID, &u.Purpose, &at)
		u.At = time.UnixMilli(at).UTC()
		out.Merge(u.Contributions(loc))
		return err
	}); err != nil {
		return err
	}
	if err := s.each(ctx, tx, "SELECT member_id, role, tier, assigned_at, revoked_at FROM insights_roles WHERE community = ?", community, func(r *sql.Rows) error {
		var ro domain.Role
		var assigned, revoked sql.NullInt64
		err := r.Scan(&ro.MemberID, &ro.Role, &ro.Tier, &assigned, &revoked)
		ro.AssignedAt, ro.RevokedAt = fromMS(assigned), fromMS(revoked)
		out.Merge(ro.Contributions(loc))
		return err
	}); err != nil {
		return err
	}
	partners := map[string]*domain.Partner{}
	partner := func(id string) *domain.Partner {
		p, ok := partners[id]
		if !ok {
			p = &domain.Partner{ID: id}
			partners[id] = p
		}
		return p
	}
	if err := s.each(ctx, tx, "SELECT partner_id, added_at FROM insights_partners WHERE community = ?", community, func(r *sql.Rows) error {
		var id string
		var added sql.NullInt64
		err := r.Scan(&id, &added)
		partner(id).AddedAt = fromMS(added)
		return err
	}); err != nil {
		return err
	}
	if err := s.each(ctx, tx, "SELECT partner_id, changed_at, stage FROM insights_partner_moves WHERE community = ?", community, func(r *sql.Rows) error {
		var id, stage string
		var at int64
		err := r.Scan(&id, &at, &stage)
		partner(id).AddMove(domain.Move{At: time.UnixMilli(at).UTC(), Stage: stage})
		return err
	}); err != nil {
		return err
	}
	for _, p := range partners {
		out.Merge(p.Contributions(loc))
	}
	if err := s.each(ctx, tx, "SELECT agreement_id, start_day, end_day, signed_on, ended_on FROM insights_agreements WHERE community = ?", community, func(r *sql.Rows) error {
		var a domain.Agreement
		var start int
		var end, signed, ended sql.NullInt64
		err := r.Scan(&a.ID, &start, &end, &signed, &ended)
		a.Start, a.End, a.HasEnd, a.SignedOn, a.Signed = domain.Day(start), domain.Day(end.Int64), end.Valid, domain.Day(signed.Int64), signed.Valid
		a.EndedOn, a.Ended = domain.Day(ended.Int64), ended.Valid
		out.Merge(a.Contributions())
		return err
	}); err != nil {
		return err
	}
	if err := s.each(ctx, tx, "SELECT contribution_id, kind, day, currency, amount_minor, volunteer_minutes FROM insights_contributions WHERE community = ?", community, func(r *sql.Rows) error {
		var c domain.Contribution
		var day int
		err := r.Scan(&c.ID, &c.Kind, &day, &c.Currency, &c.AmountMinor, &c.VolunteerMinutes)
		c.Day = domain.Day(day)
		out.Merge(c.Contributions())
		return err
	}); err != nil {
		return err
	}
	if err := s.each(ctx, tx, "SELECT "+nominationColumns+" FROM insights_nominations WHERE community = ?", community, func(r *sql.Rows) error {
		n, err := scanNomination(r)
		out.Merge(n.Contributions(loc))
		return err
	}); err != nil {
		return err
	}

	// Every read is done; now write.
	for _, m := range members {
		m.AddContributions(out, loc)
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM insights_buckets WHERE community = ?"), community); err != nil {
		return fmt.Errorf("recompute buckets: %w", err)
	}
	bucketRows := make([][]any, 0, len(out))
	for k, v := range out {
		bucketRows = append(bucketRows, []any{community, k.Bucket, k.Dim, int(k.Day), v})
	}
	return s.insertMany(ctx, tx, "insights_buckets", []string{"community", "bucket", "dim", "day", "value"}, bucketRows)
}

// each runs query (one argument: the community) and calls fn for each
// row, reading them all before returning.
func (s *Store) each(ctx context.Context, q querier, query, community string, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, s.db.Rebind(query), community)
	if err != nil {
		return fmt.Errorf("recompute: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return fmt.Errorf("recompute: %w", err)
		}
	}
	return rows.Err()
}

// UnknownEnd is a member a history says left or was erased, without
// saying when.
type UnknownEnd struct {
	MemberID string
	Erased   bool
}

// EstimateEndings dates each of ends to the day after the member's last
// activity (or joining), marked as estimated, and returns how many it
// dated.
func (s *Store) EstimateEndings(ctx context.Context, tx *sql.Tx, community string, ends []UnknownEnd) (int64, error) {
	var n int64
	for _, e := range ends {
		var joined, last sql.NullInt64
		err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT m.joined_at, (SELECT MAX(a.occurred_at) FROM insights_activities a
			WHERE a.community = m.community AND a.member_id = m.member_id) FROM insights_members m WHERE m.community = ? AND m.member_id = ?`),
			community, e.MemberID).Scan(&joined, &last)
		if err != nil {
			return n, fmt.Errorf("estimate when %s left: %w", e.MemberID, err)
		}
		at := time.UnixMilli(max(joined.Int64, last.Int64)).Add(24 * time.Hour).UnixMilli()
		col := "left_at"
		if e.Erased {
			col = "erased_at"
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE insights_members SET "+col+" = ?, left_estimated = ? WHERE community = ? AND member_id = ?"),
			at, true, community, e.MemberID); err != nil {
			return n, fmt.Errorf("estimate when %s left: %w", e.MemberID, err)
		}
		n++
	}
	return n, nil
}

// MarkRebuilt notes when community was last rebuilt.
func (s *Store) MarkRebuilt(ctx context.Context, tx *sql.Tx, community string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE insights_communities SET rebuilt_at = ? WHERE community = ?"), at.UnixMilli(), community); err != nil {
		return fmt.Errorf("mark %s rebuilt: %w", community, err)
	}
	return nil
}

// PrepareBulk readies tx for writing a whole community at once: on SQLite
// a larger page cache for its connection.
func (s *Store) PrepareBulk(ctx context.Context, tx *sql.Tx) error {
	if s.db.Dialect != db.SQLite {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA cache_size = -65536"); err != nil {
		return fmt.Errorf("prepare bulk write: %w", err)
	}
	return nil
}

// Optimize follows a bulk write on SQLite (PostgreSQL's autovacuum does
// this): it moves the write-ahead log into the database at once — else
// the next small write would, and the projection would stall behind it —
// and refreshes the query planner's statistics.
func (s *Store) Optimize(ctx context.Context) error {
	if s.db.Dialect != db.SQLite {
		return nil
	}
	for _, pragma := range []string{"PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA optimize"} {
		if _, err := s.db.ExecContext(ctx, pragma); err != nil {
			return fmt.Errorf("%s: %w", pragma, err)
		}
	}
	return nil
}
