package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/services/communications/domain"
)

// ScheduleEvent replaces the upcoming occurrences of an event of community
// with occs, in tx (the events feed's inbox transaction).
func (s *Store) ScheduleEvent(ctx context.Context, tx *sql.Tx, community, eventID string, occs []domain.UpcomingEvent) error {
	if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM upcoming_events WHERE community = ? AND event_id = ?"), community, eventID); err != nil {
		return fmt.Errorf("replace occurrences of event %s: %w", eventID, err)
	}
	return s.putOccurrences(ctx, tx, occs)
}

func (s *Store) putOccurrences(ctx context.Context, tx *sql.Tx, occs []domain.UpcomingEvent) error {
	for _, o := range occs {
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO upcoming_events
			(event_id, occurrence_id, community, title, kind, public, tags, time_zone, starts_at, ends_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (event_id, occurrence_id) DO UPDATE SET starts_at = excluded.starts_at, ends_at = excluded.ends_at`),
			o.EventID, o.OccurrenceID, o.Community, o.Title, o.Kind, o.Public, strings.Join(o.Tags, ","), o.TimeZone,
			o.StartsAt.UTC(), o.EndsAt.UTC())
		if err != nil {
			return fmt.Errorf("store occurrence %s of event %s: %w", o.OccurrenceID, o.EventID, err)
		}
	}
	return nil
}

// RescheduleEvent moves the occurrences of an event of community to the times given: all of
// them (onlyThese false: occurrences missing from times are gone), or only
// those named. The event's title, kind and tags stay as scheduled; an event
// never scheduled here is left alone.
func (s *Store) RescheduleEvent(ctx context.Context, tx *sql.Tx, community, eventID string, times []domain.UpcomingEvent, onlyThese bool) error {
	base, err := s.scanUpcoming(tx.QueryRowContext(ctx, s.db.Rebind("SELECT "+upcomingColumns+" FROM upcoming_events WHERE community = ? AND event_id = ? LIMIT 1"),
		community, eventID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	occs := make([]domain.UpcomingEvent, len(times))
	for i, t := range times {
		o := base
		o.OccurrenceID, o.StartsAt, o.EndsAt = t.OccurrenceID, t.StartsAt, t.EndsAt
		occs[i] = o
	}
	if onlyThese {
		return s.putOccurrences(ctx, tx, occs)
	}
	return s.ScheduleEvent(ctx, tx, community, eventID, occs)
}

// CancelEvent forgets an event of community, or one occurrence of it.
func (s *Store) CancelEvent(ctx context.Context, tx *sql.Tx, community, eventID, occurrenceID string) error {
	q, args := "DELETE FROM upcoming_events WHERE community = ? AND event_id = ?", []any{community, eventID}
	if occurrenceID != "" {
		q, args = q+" AND occurrence_id = ?", append(args, occurrenceID)
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(q), args...); err != nil {
		return fmt.Errorf("cancel event %s: %w", eventID, err)
	}
	return nil
}

// Upcoming returns a community's occurrences starting in [from, to), by
// start time, at most limit.
func (s *Store) Upcoming(ctx context.Context, community string, from, to time.Time, limit int) ([]domain.UpcomingEvent, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+upcomingColumns+` FROM upcoming_events
		WHERE community = ? AND starts_at >= ? AND starts_at < ? ORDER BY starts_at, event_id LIMIT ?`), community, from.UTC(), to.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("read upcoming events: %w", err)
	}
	defer rows.Close()
	var out []domain.UpcomingEvent
	for rows.Next() {
		e, err := s.scanUpcoming(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

const upcomingColumns = "event_id, occurrence_id, community, title, kind, public, tags, time_zone, starts_at, ends_at"

func (s *Store) scanUpcoming(row scanner) (domain.UpcomingEvent, error) {
	var e domain.UpcomingEvent
	var tags string
	if err := row.Scan(&e.EventID, &e.OccurrenceID, &e.Community, &e.Title, &e.Kind, &e.Public, &tags, &e.TimeZone, &e.StartsAt, &e.EndsAt); err != nil {
		return e, err
	}
	if tags != "" {
		e.Tags = strings.Split(tags, ",")
	}
	e.StartsAt, e.EndsAt = e.StartsAt.UTC(), e.EndsAt.UTC()
	return e, nil
}
