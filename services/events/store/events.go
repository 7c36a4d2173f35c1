package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/events/domain"
)

const eventColumns = `id, community, title, description, kind, venue_name, venue_street, venue_city, venue_region,
	venue_postal_code, venue_country_code, online_url, starts_at, ends_at, time_zone, capacity, partner_id, visibility,
	rrule, exdates, status, sequence, created_at, updated_at, published_at, cancelled_at, cancel_reason, split_from_id`

type scanner interface{ Scan(dest ...any) error }

// scanEvent scans eventColumns, then into extra the columns that follow
// them.
func scanEvent(row scanner, extra ...any) (domain.Event, error) {
	var e domain.Event
	var exdates string
	var published, cancelled sql.NullTime
	dest := []any{&e.ID, &e.Community, &e.Title, &e.Description, &e.Kind, &e.Venue.Name, &e.Venue.Street, &e.Venue.City,
		&e.Venue.Region, &e.Venue.PostalCode, &e.Venue.CountryCode, &e.OnlineURL, &e.Start, &e.End, &e.TimeZone, &e.Capacity,
		&e.PartnerID, &e.Visibility, &e.RRule, &exdates, &e.Status, &e.Sequence, &e.CreatedAt, &e.UpdatedAt, &published, &cancelled,
		&e.CancelReason, &e.SplitFromID}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return e, err
	}
	e.Start, e.End, e.CreatedAt, e.UpdatedAt = e.Start.UTC(), e.End.UTC(), e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	e.PublishedAt, e.CancelledAt = fromNull(published), fromNull(cancelled)
	for _, d := range strings.Split(exdates, ",") {
		if d == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, d)
		if err != nil {
			return e, fmt.Errorf("read exdates of event %s: %w", e.ID, err)
		}
		e.ExDates = append(e.ExDates, t.UTC())
	}
	return e, nil
}

func formatExDates(ds []time.Time) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.UTC().Format(time.RFC3339)
	}
	return strings.Join(parts, ",")
}

const occurrenceColumns = `id, event_id, community, recurrence_id, starts_at, ends_at, status, capacity, capacity_overridden,
	times_overridden, title, description, venue_name, venue_street, venue_city, venue_region, venue_postal_code,
	venue_country_code, online_url, sequence, seats_taken, waitlist_seq, attendance_closed, updated_at`

// occurrence is a stored occurrence with its waitlist sequence.
type occurrence struct {
	domain.Occurrence
	waitlistSeq int
}

func scanOccurrence(row scanner, extra ...any) (occurrence, error) {
	var o occurrence
	if err := row.Scan(append(o.dest(), extra...)...); err != nil {
		return o, err
	}
	o.scanned()
	return o, nil
}

// dest is where occurrenceColumns are scanned to; scanned finishes the
// scan.
func (o *occurrence) dest() []any {
	return []any{&o.ID, &o.EventID, &o.Community, &o.RecurrenceID, &o.Start, &o.End, &o.Status, &o.Capacity, &o.CapacityOverridden,
		&o.TimesOverridden, &o.Title, &o.Description, &o.Venue.Name, &o.Venue.Street, &o.Venue.City, &o.Venue.Region,
		&o.Venue.PostalCode, &o.Venue.CountryCode, &o.OnlineURL, &o.Sequence, &o.SeatsTaken, &o.waitlistSeq, &o.AttendanceClosed, &o.UpdatedAt}
}

func (o *occurrence) scanned() {
	o.RecurrenceID, o.Start, o.End, o.UpdatedAt = o.RecurrenceID.UTC(), o.Start.UTC(), o.End.UTC(), o.UpdatedAt.UTC()
}

// CreateEvent stores a new event with its occurrences, appends evs and
// records the creation in the audit log, in one transaction.
func (s *Store) CreateEvent(ctx context.Context, e domain.Event, occs []domain.Occurrence, evs ...kafka.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.insertEvent(ctx, tx, e, occs); err != nil {
			return err
		}
		for _, o := range occs {
			if err := s.insertOccurrence(ctx, tx, o); err != nil {
				return err
			}
		}
		if err := s.record(ctx, tx, e.Community, Entry{domain.ActionEventCreated, domain.TargetEvent, e.ID}); err != nil {
			return err
		}
		return s.flush(ctx, tx, &collector{events: evs})
	})
	if err != nil {
		return err
	}
	s.outbox.Notify()
	return nil
}

func lastEnd(occs []domain.Occurrence, fallback time.Time) time.Time {
	last := fallback
	for _, o := range occs {
		if o.End.After(last) {
			last = o.End
		}
	}
	return last
}

func (s *Store) insertEvent(ctx context.Context, tx *sql.Tx, e domain.Event, occs []domain.Occurrence) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO events (`+eventColumns+`, last_ends_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		e.ID, e.Community, e.Title, e.Description, string(e.Kind), e.Venue.Name, e.Venue.Street, e.Venue.City, e.Venue.Region,
		e.Venue.PostalCode, e.Venue.CountryCode, e.OnlineURL, stamp(e.Start), stamp(e.End), e.TimeZone, e.Capacity, e.PartnerID,
		string(e.Visibility), e.RRule, formatExDates(e.ExDates), string(e.Status), e.Sequence, stamp(e.CreatedAt), stamp(e.UpdatedAt),
		nullTime(e.PublishedAt), nullTime(e.CancelledAt), e.CancelReason, e.SplitFromID, stamp(lastEnd(occs, e.End)))
	if err != nil {
		return fmt.Errorf("insert event %s: %w", e.ID, err)
	}
	return s.writePeople(ctx, tx, e)
}

func (s *Store) updateEvent(ctx context.Context, tx *sql.Tx, e domain.Event, occs []domain.Occurrence) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE events SET title = ?, description = ?, kind = ?, venue_name = ?, venue_street = ?,
		venue_city = ?, venue_region = ?, venue_postal_code = ?, venue_country_code = ?, online_url = ?, starts_at = ?, ends_at = ?,
		time_zone = ?, capacity = ?, partner_id = ?, visibility = ?, rrule = ?, exdates = ?, status = ?, sequence = ?, updated_at = ?,
		published_at = ?, cancelled_at = ?, cancel_reason = ?, last_ends_at = ? WHERE community = ? AND id = ?`),
		e.Title, e.Description, string(e.Kind), e.Venue.Name, e.Venue.Street, e.Venue.City, e.Venue.Region, e.Venue.PostalCode,
		e.Venue.CountryCode, e.OnlineURL, stamp(e.Start), stamp(e.End), e.TimeZone, e.Capacity, e.PartnerID, string(e.Visibility),
		e.RRule, formatExDates(e.ExDates), string(e.Status), e.Sequence, stamp(e.UpdatedAt), nullTime(e.PublishedAt),
		nullTime(e.CancelledAt), e.CancelReason, stamp(lastEnd(occs, e.End)), e.Community, e.ID)
	if err != nil {
		return fmt.Errorf("update event %s: %w", e.ID, err)
	}
	// Tags and people carry no community of their own: they are reached
	// through their event of the community.
	if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM event_tags WHERE event_id = ? AND "+ofCommunityEvent), e.ID, e.Community); err != nil {
		return fmt.Errorf("update tags of %s: %w", e.ID, err)
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM event_people WHERE event_id = ? AND "+ofCommunityEvent), e.ID, e.Community); err != nil {
		return fmt.Errorf("update people of %s: %w", e.ID, err)
	}
	return s.writePeople(ctx, tx, e)
}

func (s *Store) writePeople(ctx context.Context, tx *sql.Tx, e domain.Event) error {
	for _, tag := range e.Tags {
		if _, err := tx.ExecContext(ctx, s.db.Rebind("INSERT INTO event_tags (event_id, tag) VALUES (?, ?)"), e.ID, tag); err != nil {
			return fmt.Errorf("tag event %s: %w", e.ID, err)
		}
	}
	for role, ids := range map[string][]string{"organiser": e.OrganiserIDs, "host": e.HostIDs} {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, s.db.Rebind("INSERT INTO event_people (event_id, role, member_id) VALUES (?, ?, ?)"), e.ID, role, id); err != nil {
				return fmt.Errorf("add %s to event %s: %w", role, e.ID, err)
			}
		}
	}
	return nil
}

func (s *Store) insertOccurrence(ctx context.Context, tx *sql.Tx, o domain.Occurrence) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO occurrences (`+occurrenceColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		o.ID, o.EventID, o.Community, stamp(o.RecurrenceID), stamp(o.Start), stamp(o.End), string(o.Status), o.Capacity,
		o.CapacityOverridden, o.TimesOverridden, o.Title, o.Description, o.Venue.Name, o.Venue.Street, o.Venue.City, o.Venue.Region,
		o.Venue.PostalCode, o.Venue.CountryCode, o.OnlineURL, o.Sequence, 0, 0, o.AttendanceClosed, stamp(o.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert occurrence %s: %w", o.ID, err)
	}
	return nil
}

// updateOccurrenceSchedule writes what an organiser may change of o; the
// seat counters are the attendance code's.
func (s *Store) updateOccurrenceSchedule(ctx context.Context, tx *sql.Tx, o domain.Occurrence) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE occurrences SET event_id = ?, recurrence_id = ?, starts_at = ?, ends_at = ?,
		status = ?, capacity = ?, capacity_overridden = ?, times_overridden = ?, title = ?, description = ?, venue_name = ?,
		venue_street = ?, venue_city = ?, venue_region = ?, venue_postal_code = ?, venue_country_code = ?, online_url = ?,
		sequence = ?, updated_at = ? WHERE community = ? AND id = ?`),
		o.EventID, stamp(o.RecurrenceID), stamp(o.Start), stamp(o.End), string(o.Status), o.Capacity, o.CapacityOverridden,
		o.TimesOverridden, o.Title, o.Description, o.Venue.Name, o.Venue.Street, o.Venue.City, o.Venue.Region, o.Venue.PostalCode,
		o.Venue.CountryCode, o.OnlineURL, o.Sequence, stamp(o.UpdatedAt), o.Community, o.ID)
	if err != nil {
		return fmt.Errorf("update occurrence %s: %w", o.ID, err)
	}
	return nil
}

func (s *Store) getEvent(ctx context.Context, q querier, community, id string, lock bool) (domain.Event, error) {
	query := "SELECT " + eventColumns + " FROM events WHERE community = ? AND id = ?"
	if lock {
		query = s.forUpdate(query)
	}
	e, err := scanEvent(q.QueryRowContext(ctx, s.db.Rebind(query), community, id))
	if err != nil {
		return e, notFound(err, domain.ErrEventNotFound)
	}
	return e, s.readPeople(ctx, q, &e)
}

// eventCore reads an event without its tags and people, which attendance
// does not need.
func (s *Store) eventCore(ctx context.Context, q querier, community, id string) (domain.Event, error) {
	e, err := scanEvent(q.QueryRowContext(ctx, s.db.Rebind("SELECT "+eventColumns+" FROM events WHERE community = ? AND id = ?"), community, id))
	return e, notFound(err, domain.ErrEventNotFound)
}

// ofCommunityEvent limits rows of event_tags and event_people, which name
// only their event, to the events of a community (the next argument).
const ofCommunityEvent = "event_id IN (SELECT id FROM events WHERE community = ?)"

func (s *Store) readPeople(ctx context.Context, q querier, e *domain.Event) error {
	rows, err := q.QueryContext(ctx, s.db.Rebind("SELECT tag FROM event_tags WHERE event_id = ? AND "+ofCommunityEvent+" ORDER BY tag"), e.ID, e.Community)
	if err != nil {
		return fmt.Errorf("read tags of %s: %w", e.ID, err)
	}
	e.Tags = nil
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		e.Tags = append(e.Tags, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = q.QueryContext(ctx, s.db.Rebind("SELECT role, member_id FROM event_people WHERE event_id = ? AND "+ofCommunityEvent+" ORDER BY role, member_id"),
		e.ID, e.Community)
	if err != nil {
		return fmt.Errorf("read people of %s: %w", e.ID, err)
	}
	defer rows.Close()
	e.OrganiserIDs, e.HostIDs = nil, nil
	for rows.Next() {
		var role, id string
		if err := rows.Scan(&role, &id); err != nil {
			return err
		}
		if role == "organiser" {
			e.OrganiserIDs = append(e.OrganiserIDs, id)
		} else {
			e.HostIDs = append(e.HostIDs, id)
		}
	}
	return rows.Err()
}

// occurrencesOf returns the occurrences of event id of community starting
// in [from, to) (all when both are zero), earliest first, with their
// waitlist lengths.
func (s *Store) occurrencesOf(ctx context.Context, q querier, community, id string, from, to time.Time) ([]domain.Occurrence, error) {
	query := "SELECT " + occurrenceColumns + `, (SELECT count(*) FROM rsvps r WHERE r.community = occurrences.community
		AND r.occurrence_id = occurrences.id AND r.status = 'waitlisted') FROM occurrences WHERE community = ? AND event_id = ?`
	args := []any{community, id}
	if !from.IsZero() {
		query += " AND starts_at >= ? AND starts_at < ?"
		args = append(args, stamp(from), stamp(to))
	}
	rows, err := q.QueryContext(ctx, s.db.Rebind(query+" ORDER BY starts_at, id"), args...)
	if err != nil {
		return nil, fmt.Errorf("read occurrences of %s: %w", id, err)
	}
	defer rows.Close()
	var out []domain.Occurrence
	for rows.Next() {
		var waitlisted int
		o, err := scanOccurrence(rows, &waitlisted)
		if err != nil {
			return nil, err
		}
		o.Waitlisted = waitlisted
		out = append(out, o.Occurrence)
	}
	return out, rows.Err()
}

// GetEvent returns an event of community with all its occurrences.
func (s *Store) GetEvent(ctx context.Context, community, id string) (domain.Event, []domain.Occurrence, error) {
	e, err := s.getEvent(ctx, s.db, community, id, false)
	if err != nil {
		return e, nil, err
	}
	occs, err := s.occurrencesOf(ctx, s.db, community, id, time.Time{}, time.Time{})
	return e, occs, err
}

// GetOccurrence returns one occurrence of community.
func (s *Store) GetOccurrence(ctx context.Context, community, id string) (domain.Occurrence, error) {
	o, err := scanOccurrence(s.db.QueryRowContext(ctx, s.db.Rebind("SELECT "+occurrenceColumns+" FROM occurrences WHERE community = ? AND id = ?"), community, id))
	if err != nil {
		return o.Occurrence, notFound(err, domain.ErrOccurrenceNotFound)
	}
	return o.Occurrence, nil
}

// ListedEvent is an event with its occurrences in a window.
type ListedEvent struct {
	Event       domain.Event
	Occurrences []domain.Occurrence
}

// ListEvents returns up to limit events of community with an occurrence
// starting in [from, to), ordered by first start, from offset on. Drafts
// are included only when drafts is set.
func (s *Store) ListEvents(ctx context.Context, community string, from, to time.Time, drafts bool, offset, limit int) ([]ListedEvent, error) {
	query := "SELECT " + eventColumns + ` FROM events e WHERE community = ?
		AND EXISTS (SELECT 1 FROM occurrences o WHERE o.community = e.community AND o.event_id = e.id AND o.starts_at >= ? AND o.starts_at < ?)`
	if !drafts {
		query += " AND status <> 'draft'"
	}
	return s.listEvents(ctx, "list events", query+" ORDER BY starts_at, id LIMIT ? OFFSET ?", from, to, community, stamp(from), stamp(to), limit, offset)
}

// listEvents reads the events query selects (eventColumns, with args)
// with their people and their occurrences starting in [from, to) (all of
// them when both are zero).
func (s *Store) listEvents(ctx context.Context, what, query string, from, to time.Time, args ...any) ([]ListedEvent, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var out []ListedEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, ListedEvent{Event: e})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if err := s.readPeople(ctx, s.db, &out[i].Event); err != nil {
			return nil, err
		}
		if out[i].Occurrences, err = s.occurrencesOf(ctx, s.db, out[i].Event.Community, out[i].Event.ID, from, to); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// EventChange is what a mutation of an event writes.
type EventChange struct {
	// Event is the event's new state.
	Event domain.Event
	// Occurrences are the event's occurrences after the change; new ids
	// are inserted, others updated (an occurrence may move to NewEvent).
	Occurrences []domain.Occurrence
	// NewEvent, when set, is stored first (a series split off).
	NewEvent *domain.Event
	// Events are appended to the outbox.
	Events []kafka.Event
	// Audit are the entries the change records in the audit log; none
	// when nothing changed.
	Audit []Entry
	// Completed says the event was completed: EventCompleted follows,
	// with its hosts and the attendance counted in the same transaction.
	Completed bool
}

// MutateEvent locks an event, hands it and its occurrences to fn and
// writes the change fn returns, in one transaction. Seats freed by a
// capacity increase are offered to the waitlist; series RSVPs reach new
// occurrences.
func (s *Store) MutateEvent(ctx context.Context, community, id string, fn func(e domain.Event, occs []domain.Occurrence, now time.Time) (EventChange, error)) (EventChange, error) {
	var change EventChange
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		e, err := s.getEvent(ctx, tx, community, id, true)
		if err != nil {
			return err
		}
		before, err := s.occurrencesOf(ctx, tx, community, id, time.Time{}, time.Time{})
		if err != nil {
			return err
		}
		now := s.clock()
		if change, err = fn(e, slices.Clone(before), now); err != nil {
			return err
		}
		c := &collector{events: change.Events}
		return s.applyChange(ctx, tx, before, change, now, c)
	})
	if err != nil {
		return EventChange{}, err
	}
	s.outbox.Notify()
	return change, nil
}

func (s *Store) applyChange(ctx context.Context, tx *sql.Tx, before []domain.Occurrence, change EventChange, now time.Time, c *collector) error {
	old := map[string]domain.Occurrence{}
	for _, o := range before {
		old[o.ID] = o
	}
	if change.NewEvent != nil {
		var mine []domain.Occurrence
		for _, o := range change.Occurrences {
			if o.EventID == change.NewEvent.ID {
				mine = append(mine, o)
			}
		}
		if err := s.insertEvent(ctx, tx, *change.NewEvent, mine); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO series_rsvps (event_id, member_id, community, created_at)
			SELECT ?, member_id, community, ? FROM series_rsvps WHERE community = ? AND event_id = ?`),
			change.NewEvent.ID, now, change.Event.Community, change.Event.ID); err != nil {
			return fmt.Errorf("carry series rsvps over: %w", err)
		}
	}
	var own []domain.Occurrence
	for _, o := range change.Occurrences {
		if o.EventID == change.Event.ID {
			own = append(own, o)
		}
	}
	if err := s.updateEvent(ctx, tx, change.Event, own); err != nil {
		return err
	}
	events := map[string]domain.Event{change.Event.ID: change.Event}
	if change.NewEvent != nil {
		events[change.NewEvent.ID] = *change.NewEvent
	}
	for _, o := range change.Occurrences {
		prev, existed := old[o.ID]
		if !existed {
			if err := s.insertOccurrence(ctx, tx, o); err != nil {
				return err
			}
			if e := events[o.EventID]; e.Status == domain.StatusPublished && o.Status == domain.OccurrenceScheduled {
				if err := s.seatSeriesMembers(ctx, tx, e, o.ID, c); err != nil {
					return err
				}
			}
			continue
		}
		if o.Capacity != prev.Capacity && o.Capacity != 0 {
			locked, err := s.lockOccurrence(ctx, tx, o.Community, o.ID)
			if err != nil {
				return err
			}
			if locked.SeatsTaken > o.Capacity {
				return domain.ErrCapacityBelowSeats
			}
		}
		if err := s.updateOccurrenceSchedule(ctx, tx, o); err != nil {
			return err
		}
		if o.EventID != prev.EventID {
			if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE rsvps SET event_id = ? WHERE community = ? AND occurrence_id = ?"), o.EventID, o.Community, o.ID); err != nil {
				return fmt.Errorf("move rsvps of %s: %w", o.ID, err)
			}
			if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE feedback SET event_id = ? WHERE community = ? AND occurrence_id = ?"), o.EventID, o.Community, o.ID); err != nil {
				return fmt.Errorf("move feedback of %s: %w", o.ID, err)
			}
		}
		if o.Capacity != prev.Capacity && o.Status == domain.OccurrenceScheduled {
			locked, err := s.lockOccurrence(ctx, tx, o.Community, o.ID)
			if err != nil {
				return err
			}
			if err := s.offerFreedSeats(ctx, tx, events[o.EventID], &locked, now, nil, c); err != nil {
				return err
			}
			if err := s.saveCounters(ctx, tx, locked); err != nil {
				return err
			}
		}
	}
	if err := s.record(ctx, tx, change.Event.Community, change.Audit...); err != nil {
		return err
	}
	if change.Completed {
		attendance, err := s.attendanceOf(ctx, tx, change.Event.Community, change.Event.ID)
		if err != nil {
			return err
		}
		c.add(s.events.EventCompleted(change.Event, attendance, now))
	}
	return s.flush(ctx, tx, c)
}

// attendanceOf counts the occurrences held and the seats, check-ins and
// no-shows of an event of community.
func (s *Store) attendanceOf(ctx context.Context, q querier, community, eventID string) (domain.Attendance, error) {
	var a domain.Attendance
	err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT count(*) FROM occurrences WHERE community = ? AND event_id = ? AND status <> ?`),
		community, eventID, string(domain.OccurrenceCancelled)).Scan(&a.Occurrences)
	if err != nil {
		return a, fmt.Errorf("count occurrences of %s: %w", eventID, err)
	}
	err = q.QueryRowContext(ctx, s.db.Rebind(`SELECT
			coalesce(sum(CASE WHEN status IN ('going', 'offered', 'checked_in', 'no_show') THEN 1 ELSE 0 END), 0),
			coalesce(sum(CASE WHEN status = 'checked_in' THEN 1 ELSE 0 END), 0),
			coalesce(sum(CASE WHEN status = 'no_show' THEN 1 ELSE 0 END), 0)
		FROM rsvps WHERE community = ? AND event_id = ?`), community, eventID).Scan(&a.SeatsTaken, &a.Attended, &a.NoShows)
	if err != nil {
		return a, fmt.Errorf("count attendance of %s: %w", eventID, err)
	}
	return a, nil
}

// seatSeriesMembers answers going for every series RSVP of e on a new
// occurrence.
func (s *Store) seatSeriesMembers(ctx context.Context, tx *sql.Tx, e domain.Event, occurrenceID string, c *collector) error {
	rows, err := tx.QueryContext(ctx, s.db.Rebind("SELECT member_id FROM series_rsvps WHERE community = ? AND event_id = ? ORDER BY created_at, member_id"),
		e.Community, e.ID)
	if err != nil {
		return fmt.Errorf("read series rsvps of %s: %w", e.ID, err)
	}
	var members []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			rows.Close()
			return err
		}
		members = append(members, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range members {
		if _, _, err := s.answerOne(ctx, tx, e, occurrenceID, m, domain.AnswerGoing, true, c); err != nil {
			return err
		}
	}
	return nil
}
