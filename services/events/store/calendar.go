package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/services/events/domain"
)

// FeedToken returns memberID's calendar feed token, storing fresh (a new
// random token) when they have none, or in place of theirs when rotate is
// set; a stored or replaced token is audited.
func (s *Store) FeedToken(ctx context.Context, community, memberID, fresh string, rotate bool) (string, error) {
	token := fresh
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		action := domain.ActionFeedTokenCreated
		if rotate {
			action = domain.ActionFeedTokenRotated
			if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM feed_tokens WHERE community = ? AND member_id = ?"), community, memberID); err != nil {
				return fmt.Errorf("drop feed token: %w", err)
			}
		} else {
			err := tx.QueryRowContext(ctx, s.db.Rebind("SELECT token FROM feed_tokens WHERE community = ? AND member_id = ?"), community, memberID).Scan(&token)
			if err == nil {
				return nil
			}
			if err != sql.ErrNoRows {
				return fmt.Errorf("read feed token: %w", err)
			}
			token = fresh
		}
		_, err := tx.ExecContext(ctx, s.db.Rebind("INSERT INTO feed_tokens (token, community, member_id, created_at) VALUES (?, ?, ?, ?)"),
			fresh, community, memberID, s.clock())
		if err != nil {
			return wrap("store feed token", err)
		}
		return s.record(ctx, tx, community, Entry{action, domain.TargetMember, memberID})
	})
	return token, err
}

// FeedOwner returns whose feed token is. The token, a 256-bit secret, is
// the whole credential of a member's feed: it names its community.
func (s *Store) FeedOwner(ctx context.Context, token string) (community, memberID string, err error) {
	err = s.db.QueryRowContext(ctx, s.db.Rebind("SELECT community, member_id FROM feed_tokens WHERE token = ?"), token).Scan(&community, &memberID)
	return community, memberID, notFound(err, domain.ErrFeedTokenNotFound)
}

// CalendarEntry is an event with the occurrences a calendar shows, and,
// in a member's calendar, their RSVPs by occurrence.
type CalendarEntry struct {
	Event       domain.Event
	Occurrences []domain.Occurrence
	RSVPs       map[string]domain.RSVP
}

// PublicCalendar returns the public, published (or since cancelled or
// completed) events of community that ended after since, with every
// occurrence, at most limit of them, earliest first.
func (s *Store) PublicCalendar(ctx context.Context, community string, since time.Time, limit int) ([]CalendarEntry, error) {
	listed, err := s.listEvents(ctx, "read public calendar", "SELECT "+eventColumns+` FROM events WHERE community = ? AND visibility = 'public'
		AND status <> 'draft' AND last_ends_at >= ? ORDER BY starts_at, id LIMIT ?`, time.Time{}, time.Time{}, community, stamp(since), limit)
	if err != nil {
		return nil, err
	}
	out := make([]CalendarEntry, len(listed))
	for i, l := range listed {
		out[i] = CalendarEntry{Event: l.Event, Occurrences: l.Occurrences}
	}
	return out, nil
}

// MemberCalendar returns the occurrences memberID has a seat, an offer or
// a waitlist place for (or attended), that ended after since, grouped by
// event.
func (s *Store) MemberCalendar(ctx context.Context, community, memberID string, since time.Time, limit int) ([]CalendarEntry, error) {
	rsvps, err := s.readRSVPs(ctx, s.db, `r.community = ? AND r.member_id = ? AND r.status IN ('going', 'waitlisted', 'offered', 'checked_in', 'no_show')
		AND o.ends_at >= ? ORDER BY o.starts_at LIMIT ?`, community, memberID, stamp(since), limit)
	if err != nil {
		return nil, err
	}
	var out []CalendarEntry
	index := map[string]int{}
	for _, r := range rsvps {
		i, ok := index[r.EventID]
		if !ok {
			e, err := s.getEvent(ctx, s.db, community, r.EventID, false)
			if err != nil {
				return nil, err
			}
			if e.Status == domain.StatusDraft {
				continue
			}
			i = len(out)
			index[r.EventID] = i
			out = append(out, CalendarEntry{Event: e, RSVPs: map[string]domain.RSVP{}})
		}
		o, err := s.GetOccurrence(ctx, community, r.OccurrenceID)
		if err != nil {
			return nil, err
		}
		out[i].Occurrences = append(out[i].Occurrences, o)
		out[i].RSVPs[o.ID] = r
	}
	return out, nil
}

// SuggestionCandidates returns the next scheduled occurrence of each
// published public event of community starting after now and within 180
// days, at most limit of them.
func (s *Store) SuggestionCandidates(ctx context.Context, community string, now time.Time, limit int) ([]domain.Candidate, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT o.id, e.id FROM occurrences o JOIN events e ON e.community = o.community AND e.id = o.event_id
		WHERE e.community = ? AND e.status = 'published' AND e.visibility = 'public' AND o.status = 'scheduled'
		AND o.starts_at = (SELECT min(o2.starts_at) FROM occurrences o2 WHERE o2.community = e.community AND o2.event_id = e.id
			AND o2.status = 'scheduled' AND o2.starts_at > ?)
		AND o.starts_at < ? ORDER BY o.starts_at LIMIT ?`), community, stamp(now), stamp(now.Add(180*24*time.Hour)), limit)
	if err != nil {
		return nil, fmt.Errorf("find suggestion candidates: %w", err)
	}
	var pairs [][2]string
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			rows.Close()
			return nil, err
		}
		pairs = append(pairs, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]domain.Candidate, 0, len(pairs))
	for _, p := range pairs {
		e, err := s.getEvent(ctx, s.db, community, p[1], false)
		if err != nil {
			return nil, err
		}
		o, err := s.GetOccurrence(ctx, community, p[0])
		if err != nil {
			return nil, err
		}
		out = append(out, domain.Candidate{Event: e, Occurrence: o})
	}
	return out, nil
}

// DueForCompletion lists published events whose last occurrence ended
// before cutoff.
func (s *Store) DueForCompletion(ctx context.Context, cutoff time.Time, limit int) ([][2]string, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT community, id FROM events WHERE status = 'published' AND last_ends_at <= ?
		ORDER BY last_ends_at LIMIT ?`), stamp(cutoff), limit)
	if err != nil {
		return nil, fmt.Errorf("find events to complete: %w", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ErasureConsumer is the inbox name of the members.v1 erasure consumer.
const ErasureConsumer = "members-erasure"

// EraseMember removes memberID's personal data, once per eventID: their
// upcoming seats and waitlist places are given up (and passed on), their
// check-in codes, feedback comments, feed token and series RSVPs go; the
// pseudonymous id stays on past RSVPs and ratings, so counts hold. It
// reports whether this call did the erasure.
func (s *Store) EraseMember(ctx context.Context, eventID, community, memberID string) (bool, error) {
	ran, err := s.inbox.Handle(ctx, ErasureConsumer, eventID, func(tx *sql.Tx) error {
		if _, err := s.eraseMember(ctx, tx, community, memberID); err != nil {
			return err
		}
		return s.record(ctx, tx, community, Entry{domain.ActionMemberForgotten, domain.TargetMember, memberID})
	})
	if err != nil {
		return false, err
	}
	if ran {
		s.outbox.Notify()
	}
	return ran, nil
}

// Dialect is the engine behind the store.
func (s *Store) Dialect() db.Dialect { return s.db.Dialect }
