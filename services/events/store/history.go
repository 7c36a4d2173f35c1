package store

import (
	"context"
	"database/sql"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
)

// attendanceStatuses are the RSVP statuses as history facts.
var attendanceStatuses = map[string]insightsv1.AttendanceStatus{
	"going": insightsv1.AttendanceStatus_ATTENDANCE_STATUS_GOING, "waitlisted": insightsv1.AttendanceStatus_ATTENDANCE_STATUS_WAITLISTED,
	"offered": insightsv1.AttendanceStatus_ATTENDANCE_STATUS_OFFERED, "checked_in": insightsv1.AttendanceStatus_ATTENDANCE_STATUS_CHECKED_IN,
	"no_show": insightsv1.AttendanceStatus_ATTENDANCE_STATUS_NO_SHOW, "not_going": insightsv1.AttendanceStatus_ATTENDANCE_STATUS_NOT_GOING,
	"cancelled": insightsv1.AttendanceStatus_ATTENDANCE_STATUS_CANCELLED, "offer_expired": insightsv1.AttendanceStatus_ATTENDANCE_STATUS_OFFER_EXPIRED,
}

// History streams, in batches of up to 1,000, the facts of community the
// insights service rebuilds from: the occurrences of events that were
// published, and every RSVP with its check-in and rating (never the
// comment). A member was on a waitlist when their RSVP holds a waitlist
// position.
func (s *Store) History(ctx context.Context, community string, send func([]*insightsv1.HistoryRecord) error) error {
	var batch []*insightsv1.HistoryRecord
	add := func(r *insightsv1.HistoryRecord) error {
		if batch = append(batch, r); len(batch) == 1000 {
			err := send(batch)
			batch = nil
			return err
		}
		return nil
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT o.event_id, o.id, o.starts_at, o.ends_at, o.status, e.status FROM occurrences o
		JOIN events e ON e.id = o.event_id WHERE o.community = ? AND e.published_at IS NOT NULL ORDER BY o.id`), community)
	if err != nil {
		return fmt.Errorf("read events history: %w", err)
	}
	for rows.Next() {
		f := &insightsv1.OccurrenceFact{}
		var start, end sql.NullTime
		var status, eventStatus string
		if err := rows.Scan(&f.EventId, &f.OccurrenceId, &start, &end, &status, &eventStatus); err != nil {
			rows.Close()
			return fmt.Errorf("read events history: %w", err)
		}
		f.StartTime, f.EndTime = timestamppb.New(start.Time), timestamppb.New(end.Time)
		f.Cancelled = status == "cancelled" || eventStatus == "cancelled"
		if err := add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Occurrence{Occurrence: f}}); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = s.db.QueryContext(ctx, s.db.Rebind(`SELECT r.event_id, r.occurrence_id, r.member_id, r.status, r.position, r.updated_at, r.checked_in_at,
		f.rating, f.given_at FROM rsvps r LEFT JOIN feedback f ON f.occurrence_id = r.occurrence_id AND f.member_id = r.member_id
		WHERE r.community = ? ORDER BY r.id`), community)
	if err != nil {
		return fmt.Errorf("read events history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		f := &insightsv1.AttendanceFact{}
		var status string
		var position int
		var updated, checked, given sql.NullTime
		var rating sql.NullInt32
		if err := rows.Scan(&f.EventId, &f.OccurrenceId, &f.MemberId, &status, &position, &updated, &checked, &rating, &given); err != nil {
			return fmt.Errorf("read events history: %w", err)
		}
		f.Status, f.Waitlisted, f.UpdatedAt = attendanceStatuses[status], position > 0, timestamppb.New(updated.Time)
		if checked.Valid {
			f.CheckedInAt = timestamppb.New(checked.Time)
		}
		if rating.Valid {
			f.Rating, f.RatedAt = rating.Int32, timestamppb.New(given.Time)
		}
		if err := add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Attendance{Attendance: f}}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil || len(batch) == 0 {
		return err
	}
	return send(batch)
}
