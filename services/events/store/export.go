package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kinshiphq/kinship/services/events/domain"
)

// MemberData is what the events service holds about one member.
type MemberData struct {
	RSVPs        []domain.RSVP
	Feedback     []domain.Feedback
	Hosted       []EventRole
	Organised    []EventRole
	CalendarFeed bool
}

// EventRole is an event a member hosts or organises.
type EventRole struct {
	EventID string
	Title   string
	Status  domain.Status
	Start   time.Time
}

// ExportMember reads everything held about memberID of community and
// records the reading in the audit log, in one transaction.
func (s *Store) ExportMember(ctx context.Context, community, memberID string) (MemberData, error) {
	var out MemberData
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if out.RSVPs, err = s.readRSVPs(ctx, tx, "r.community = ? AND r.member_id = ? ORDER BY o.starts_at, r.id", community, memberID); err != nil {
			return err
		}
		if out.Feedback, err = s.memberFeedback(ctx, tx, community, memberID); err != nil {
			return err
		}
		for _, role := range []struct {
			name string
			into *[]EventRole
		}{{"host", &out.Hosted}, {"organiser", &out.Organised}} {
			if *role.into, err = s.eventsWithRole(ctx, tx, community, memberID, role.name); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.db.Rebind("SELECT count(*) FROM feed_tokens WHERE community = ? AND member_id = ?"), community, memberID).Scan(&n); err != nil {
			return fmt.Errorf("read feed token: %w", err)
		}
		out.CalendarFeed = n > 0
		return s.record(ctx, tx, community, Entry{domain.ActionMemberExported, domain.TargetMember, memberID})
	})
	return out, err
}

func (s *Store) memberFeedback(ctx context.Context, q querier, community, memberID string) ([]domain.Feedback, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT occurrence_id, event_id, rating, comment, given_at FROM feedback
		WHERE community = ? AND member_id = ? ORDER BY given_at, occurrence_id`), community, memberID)
	if err != nil {
		return nil, fmt.Errorf("read feedback of %s: %w", memberID, err)
	}
	defer rows.Close()
	var out []domain.Feedback
	for rows.Next() {
		fb := domain.Feedback{Community: community, MemberID: memberID}
		if err := rows.Scan(&fb.OccurrenceID, &fb.EventID, &fb.Rating, &fb.Comment, &fb.GivenAt); err != nil {
			return nil, err
		}
		fb.GivenAt = fb.GivenAt.UTC()
		out = append(out, fb)
	}
	return out, rows.Err()
}

// eventsWithRole lists the events of community where memberID has role
// (host or organiser); event_people has no community of its own, so the
// event scopes it.
func (s *Store) eventsWithRole(ctx context.Context, q querier, community, memberID, role string) ([]EventRole, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT e.id, e.title, e.status, e.starts_at FROM event_people p
		JOIN events e ON e.id = p.event_id WHERE e.community = ? AND p.member_id = ? AND p.role = ? ORDER BY e.starts_at, e.id`),
		community, memberID, role)
	if err != nil {
		return nil, fmt.Errorf("read events of %s: %w", memberID, err)
	}
	defer rows.Close()
	var out []EventRole
	for rows.Next() {
		var r EventRole
		if err := rows.Scan(&r.EventID, &r.Title, &r.Status, &r.Start); err != nil {
			return nil, err
		}
		r.Start = r.Start.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
