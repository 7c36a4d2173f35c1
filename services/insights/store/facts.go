package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kinshiphq/kinship/services/insights/domain"
)

// UpdateRole adds change to role of member memberID and applies what it
// makes of the ambassador counts.
func (s *Store) UpdateRole(ctx context.Context, tx *sql.Tx, community, memberID, role string, change domain.RoleChange) error {
	loc, err := s.zone(community)
	if err != nil {
		return err
	}
	if memberID, err = s.resolve(ctx, tx, community, memberID); err != nil {
		return err
	}
	r := domain.Role{MemberID: memberID, Role: role}
	rows, err := tx.QueryContext(ctx, s.db.Rebind("SELECT at, assigned, tier FROM insights_role_changes WHERE community = ? AND member_id = ? AND role = ?"),
		community, memberID, role)
	if err != nil {
		return fmt.Errorf("load role %s of %s: %w", role, memberID, err)
	}
	for rows.Next() {
		var c domain.RoleChange
		var at int64
		if err := rows.Scan(&at, &c.Assigned, &c.Tier); err != nil {
			rows.Close()
			return err
		}
		c.At = time.UnixMilli(at).UTC()
		r.Changes = append(r.Changes, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	r.Derive()
	before := r.Contributions(loc)
	if !r.Add(change) {
		return nil
	}
	if err := s.apply(ctx, tx, community, domain.Diff(before, r.Contributions(loc))); err != nil {
		return err
	}
	return s.putRole(ctx, tx, community, r, []domain.RoleChange{change})
}

// putRole saves role r's derived run and adds changes.
func (s *Store) putRole(ctx context.Context, q querier, community string, r domain.Role, changes []domain.RoleChange) error {
	rows := make([][]any, 0, len(changes))
	for _, c := range changes {
		rows = append(rows, []any{community, r.MemberID, r.Role, c.At.UnixMilli(), c.Assigned, c.Tier})
	}
	if err := s.insertMany(ctx, q, "insights_role_changes", []string{"community", "member_id", "role", "at", "assigned", "tier"}, rows); err != nil {
		return err
	}
	_, err := q.ExecContext(ctx, s.db.Rebind(`INSERT INTO insights_roles (community, member_id, role, tier, assigned_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (community, member_id, role) DO UPDATE SET tier = excluded.tier, assigned_at = excluded.assigned_at, revoked_at = excluded.revoked_at`),
		community, r.MemberID, r.Role, r.Tier, ms(r.AssignedAt), ms(r.RevokedAt))
	if err != nil {
		return fmt.Errorf("save role %s of %s: %w", r.Role, r.MemberID, err)
	}
	return nil
}

func scanOccurrence(r rowScanner) (domain.Occurrence, error) {
	var o domain.Occurrence
	var start, end, version sql.NullInt64
	err := r.Scan(&o.ID, &o.EventID, &start, &end, &o.Known, &o.Cancelled, &version)
	o.Start, o.End, o.Version = fromMS(start), fromMS(end), fromMS(version)
	return o, err
}

const occurrenceColumns = "occurrence_id, event_id, starts_at, ends_at, known, cancelled, version"

func (s *Store) occurrence(ctx context.Context, q querier, community, id string) (domain.Occurrence, error) {
	o, err := scanOccurrence(q.QueryRowContext(ctx, s.db.Rebind("SELECT "+occurrenceColumns+" FROM insights_occurrences WHERE community = ? AND occurrence_id = ?"), community, id))
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Occurrence{ID: id}, nil
	}
	if err != nil {
		return o, fmt.Errorf("load occurrence %s: %w", id, err)
	}
	return o, nil
}

const attendanceColumns = "occurrence_id, member_id, event_id, status, status_at, waitlisted, checked_in_at, no_show_at, rating, rated_at"

func scanAttendance(r rowScanner) (domain.Attendance, error) {
	var a domain.Attendance
	var statusAt, checked, noShow, rated sql.NullInt64
	var status string
	err := r.Scan(&a.OccurrenceID, &a.MemberID, &a.EventID, &status, &statusAt, &a.Waitlisted, &checked, &noShow, &a.Rating, &rated)
	a.Status, a.StatusAt, a.CheckedInAt, a.NoShowAt, a.RatedAt = domain.AttendanceStatus(status), fromMS(statusAt), fromMS(checked), fromMS(noShow), fromMS(rated)
	return a, err
}

func attendanceValues(community string, a domain.Attendance) []any {
	return []any{community, a.OccurrenceID, a.MemberID, a.EventID, string(a.Status), ms(a.StatusAt), a.Waitlisted, ms(a.CheckedInAt),
		ms(a.NoShowAt), a.Rating, ms(a.RatedAt)}
}

// UpdateOccurrence applies change to occurrence id and what it makes of
// the event counts, its RSVPs' included (they count on its start day).
func (s *Store) UpdateOccurrence(ctx context.Context, tx *sql.Tx, community, id string, change func(*domain.Occurrence)) error {
	loc, err := s.zone(community)
	if err != nil {
		return err
	}
	o, err := s.occurrence(ctx, tx, community, id)
	if err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, s.db.Rebind("SELECT "+attendanceColumns+" FROM insights_attendance WHERE community = ? AND occurrence_id = ?"), community, id)
	if err != nil {
		return fmt.Errorf("load RSVPs of %s: %w", id, err)
	}
	var rsvps []domain.Attendance
	for rows.Next() {
		a, err := scanAttendance(rows)
		if err != nil {
			rows.Close()
			return err
		}
		rsvps = append(rsvps, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	contributions := func() domain.Deltas {
		d := o.Contributions(loc)
		for _, a := range rsvps {
			d.Merge(a.Contributions(o, loc))
		}
		return d
	}
	before := contributions()
	change(&o)
	if err := s.apply(ctx, tx, community, domain.Diff(before, contributions())); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO insights_occurrences (community, `+occurrenceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (community, occurrence_id) DO UPDATE SET event_id = excluded.event_id, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
		known = excluded.known, cancelled = excluded.cancelled, version = excluded.version`),
		community, o.ID, o.EventID, ms(o.Start), ms(o.End), o.Known, o.Cancelled, ms(o.Version))
	if err != nil {
		return fmt.Errorf("save occurrence %s: %w", id, err)
	}
	return nil
}

// EventOccurrences are the occurrence ids of an event.
func (s *Store) EventOccurrences(ctx context.Context, tx *sql.Tx, community, eventID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, s.db.Rebind("SELECT occurrence_id FROM insights_occurrences WHERE community = ? AND event_id = ?"), community, eventID)
	if err != nil {
		return nil, fmt.Errorf("list occurrences of %s: %w", eventID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// UpdateAttendance applies change to the RSVP of memberID for
// occurrenceID and what it makes of the event counts.
func (s *Store) UpdateAttendance(ctx context.Context, tx *sql.Tx, community, occurrenceID, memberID string, change func(*domain.Attendance)) error {
	loc, err := s.zone(community)
	if err != nil {
		return err
	}
	o, err := s.occurrence(ctx, tx, community, occurrenceID)
	if err != nil {
		return err
	}
	a, err := scanAttendance(tx.QueryRowContext(ctx, s.db.Rebind("SELECT "+attendanceColumns+" FROM insights_attendance WHERE community = ? AND occurrence_id = ? AND member_id = ?"),
		community, occurrenceID, memberID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		a = domain.Attendance{OccurrenceID: occurrenceID, MemberID: memberID}
	case err != nil:
		return fmt.Errorf("load RSVP of %s for %s: %w", memberID, occurrenceID, err)
	}
	before := a.Contributions(o, loc)
	change(&a)
	if err := s.apply(ctx, tx, community, domain.Diff(before, a.Contributions(o, loc))); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO insights_attendance (community, `+attendanceColumns+`) VALUES `+placeholders(1, 11)+`
		ON CONFLICT (community, occurrence_id, member_id) DO UPDATE SET event_id = excluded.event_id, status = excluded.status,
		status_at = excluded.status_at, waitlisted = excluded.waitlisted, checked_in_at = excluded.checked_in_at,
		no_show_at = excluded.no_show_at, rating = excluded.rating, rated_at = excluded.rated_at`), attendanceValues(community, a)...)
	if err != nil {
		return fmt.Errorf("save RSVP of %s for %s: %w", memberID, occurrenceID, err)
	}
	return nil
}

// UpdateMessage applies change to message id and what its outcome counts.
func (s *Store) UpdateMessage(ctx context.Context, tx *sql.Tx, community, id string, change func(*domain.Message)) error {
	loc, err := s.zone(community)
	if err != nil {
		return err
	}
	m := domain.Message{ID: id}
	var sent, bounced, failed sql.NullInt64
	err = tx.QueryRowContext(ctx, s.db.Rebind(`SELECT member_id, channel, idempotency_key, sent_at, bounced_at, failed_at FROM insights_messages
		WHERE community = ? AND message_id = ?`), community, id).Scan(&m.MemberID, &m.Channel, &m.IdempotencyKey, &sent, &bounced, &failed)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("load message %s: %w", id, err)
	}
	m.SentAt, m.BouncedAt, m.FailedAt = fromMS(sent), fromMS(bounced), fromMS(failed)
	before := m.Contributions(loc)
	change(&m)
	if err := s.apply(ctx, tx, community, domain.Diff(before, m.Contributions(loc))); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO insights_messages (community, message_id, member_id, channel, idempotency_key, sent_at, bounced_at, failed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (community, message_id) DO UPDATE SET member_id = excluded.member_id, channel = excluded.channel,
		idempotency_key = excluded.idempotency_key, sent_at = excluded.sent_at, bounced_at = excluded.bounced_at, failed_at = excluded.failed_at`),
		community, id, m.MemberID, m.Channel, m.IdempotencyKey, ms(m.SentAt), ms(m.BouncedAt), ms(m.FailedAt))
	if err != nil {
		return fmt.Errorf("save message %s: %w", id, err)
	}
	return nil
}

// AddUnsubscribe records u once.
func (s *Store) AddUnsubscribe(ctx context.Context, tx *sql.Tx, community string, u domain.Unsubscribe) error {
	loc, err := s.zone(community)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO insights_unsubscribes (community, member_id, purpose, occurred_at) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`), community, u.MemberID, u.Purpose, u.At.UnixMilli())
	if err != nil {
		return fmt.Errorf("record unsubscribe of %s: %w", u.MemberID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return s.apply(ctx, tx, community, u.Contributions(loc))
}

// UpdatePartner applies change to partner id and its stage counts.
func (s *Store) UpdatePartner(ctx context.Context, tx *sql.Tx, community, id string, change func(*domain.Partner) bool) error {
	loc, err := s.zone(community)
	if err != nil {
		return err
	}
	p := domain.Partner{ID: id}
	var added sql.NullInt64
	err = tx.QueryRowContext(ctx, s.db.Rebind("SELECT added_at FROM insights_partners WHERE community = ? AND partner_id = ?"), community, id).Scan(&added)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("load partner %s: %w", id, err)
	}
	p.AddedAt = fromMS(added)
	rows, err := tx.QueryContext(ctx, s.db.Rebind("SELECT changed_at, stage FROM insights_partner_moves WHERE community = ? AND partner_id = ?"), community, id)
	if err != nil {
		return fmt.Errorf("load moves of partner %s: %w", id, err)
	}
	for rows.Next() {
		var at int64
		var stage string
		if err := rows.Scan(&at, &stage); err != nil {
			rows.Close()
			return err
		}
		p.AddMove(domain.Move{At: time.UnixMilli(at).UTC(), Stage: stage})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	before := p.Contributions(loc)
	if !change(&p) {
		return nil
	}
	if err := s.apply(ctx, tx, community, domain.Diff(before, p.Contributions(loc))); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO insights_partners (community, partner_id, added_at) VALUES (?, ?, ?)
		ON CONFLICT (community, partner_id) DO UPDATE SET added_at = excluded.added_at`), community, id, ms(p.AddedAt)); err != nil {
		return fmt.Errorf("save partner %s: %w", id, err)
	}
	rowsOut := make([][]any, 0, len(p.Moves))
	for _, mv := range p.Moves {
		rowsOut = append(rowsOut, []any{community, id, mv.At.UnixMilli(), mv.Stage})
	}
	return s.insertMany(ctx, tx, "insights_partner_moves", []string{"community", "partner_id", "changed_at", "stage"}, rowsOut)
}

func nullDay(d domain.Day, ok bool) any {
	if !ok {
		return nil
	}
	return int(d)
}

// UpdateAgreement applies change to agreement id and its expiry counts.
func (s *Store) UpdateAgreement(ctx context.Context, tx *sql.Tx, community, id string, change func(*domain.Agreement)) error {
	a := domain.Agreement{ID: id}
	var start int
	var end, signed, ended, version sql.NullInt64
	err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT partner_id, start_day, end_day, signed_on, ended_on, version FROM insights_agreements
		WHERE community = ? AND agreement_id = ?`), community, id).Scan(&a.PartnerID, &start, &end, &signed, &ended, &version)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("load agreement %s: %w", id, err)
	}
	a.Start, a.End, a.HasEnd, a.SignedOn, a.Signed = domain.Day(start), domain.Day(end.Int64), end.Valid, domain.Day(signed.Int64), signed.Valid
	a.EndedOn, a.Ended, a.Version = domain.Day(ended.Int64), ended.Valid, fromMS(version)
	before := a.Contributions()
	change(&a)
	if err := s.apply(ctx, tx, community, domain.Diff(before, a.Contributions())); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO insights_agreements (community, agreement_id, partner_id, start_day, end_day, signed_on, ended_on, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (community, agreement_id) DO UPDATE SET partner_id = excluded.partner_id,
		start_day = excluded.start_day, end_day = excluded.end_day, signed_on = excluded.signed_on, ended_on = excluded.ended_on, version = excluded.version`),
		community, id, a.PartnerID, int(a.Start), nullDay(a.End, a.HasEnd), nullDay(a.SignedOn, a.Signed), nullDay(a.EndedOn, a.Ended), ms(a.Version))
	if err != nil {
		return fmt.Errorf("save agreement %s: %w", id, err)
	}
	return nil
}

// AddContribution records c once.
func (s *Store) AddContribution(ctx context.Context, tx *sql.Tx, community string, c domain.Contribution) error {
	res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO insights_contributions (community, contribution_id, partner_id, kind, day, currency, amount_minor, volunteer_minutes)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`), community, c.ID, c.PartnerID, c.Kind, int(c.Day), c.Currency, c.AmountMinor, c.VolunteerMinutes)
	if err != nil {
		return fmt.Errorf("record contribution %s: %w", c.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return s.apply(ctx, tx, community, c.Contributions())
}
