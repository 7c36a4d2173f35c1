package events

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/insights/domain"
)

// eventTypes are the events.v1 events counted.
var eventTypes = types(&eventsv1.EventScheduled{}, &eventsv1.EventUpdated{}, &eventsv1.EventCancelled{}, &eventsv1.RSVPReceived{},
	&eventsv1.Waitlisted{}, &eventsv1.SeatOffered{}, &eventsv1.SeatOfferExpired{}, &eventsv1.SeatTaken{}, &eventsv1.RSVPCancelled{},
	&eventsv1.CheckedIn{}, &eventsv1.NoShow{}, &eventsv1.FeedbackGiven{})

// rsvpEvent is an events.v1 payload about one member's RSVP.
type rsvpEvent interface {
	payloadMessage
	GetEventId() string
	GetOccurrenceId() string
	GetMemberId() string
}

// events turns an events.v1 event into its change.
func (p *Projection) events(e kafka.Event, community string) (change, error) {
	msg, err := payload(e, eventTypes)
	if err != nil {
		return nil, err
	}
	if err := decode(e, community, msg); err != nil {
		return nil, err
	}
	t := at(e)
	switch m := msg.(type) {
	case *eventsv1.EventScheduled:
		return p.times(community, m.GetEventId(), m.GetOccurrences(), timeOr(m.GetPublishedAt(), t)), nil
	case *eventsv1.EventUpdated:
		if m.GetStatus() == eventsv1.EventStatus_EVENT_STATUS_CANCELLED {
			return p.cancel(community, m.GetEventId(), ""), nil
		}
		return p.times(community, m.GetEventId(), m.GetOccurrences(), timeOr(m.GetUpdatedAt(), t)), nil
	case *eventsv1.EventCancelled:
		return p.cancel(community, m.GetEventId(), m.GetOccurrenceId()), nil
	case *eventsv1.RSVPReceived:
		status := map[eventsv1.RSVPStatus]domain.AttendanceStatus{
			eventsv1.RSVPStatus_RSVP_STATUS_GOING: domain.AttendanceGoing, eventsv1.RSVPStatus_RSVP_STATUS_WAITLISTED: domain.AttendanceWaitlisted,
			eventsv1.RSVPStatus_RSVP_STATUS_NOT_GOING: domain.AttendanceNotGoing}[m.GetStatus()]
		if status == domain.AttendanceNone {
			return nil, errSkip
		}
		return p.rsvp(community, m, func(a *domain.Attendance) { a.SetStatus(status, timeOr(m.GetReceivedAt(), t)) })
	case *eventsv1.Waitlisted:
		return p.rsvp(community, m, func(a *domain.Attendance) { a.SetStatus(domain.AttendanceWaitlisted, timeOr(m.GetWaitlistedAt(), t)) })
	case *eventsv1.SeatOffered:
		return p.rsvp(community, m, func(a *domain.Attendance) { a.SetStatus(domain.AttendanceOffered, timeOr(m.GetOfferedAt(), t)) })
	case *eventsv1.SeatOfferExpired:
		return p.rsvp(community, m, func(a *domain.Attendance) { a.SetStatus(domain.AttendanceOfferExpired, timeOr(m.GetExpiredAt(), t)) })
	case *eventsv1.SeatTaken:
		return p.rsvp(community, m, func(a *domain.Attendance) {
			a.SetStatus(domain.AttendanceGoing, timeOr(m.GetTakenAt(), t))
			a.Waitlisted = a.Waitlisted || m.GetFromWaitlist()
		})
	case *eventsv1.RSVPCancelled:
		return p.rsvp(community, m, func(a *domain.Attendance) { a.SetStatus(domain.AttendanceCancelled, timeOr(m.GetCancelledAt(), t)) })
	case *eventsv1.CheckedIn:
		checked := timeOr(m.GetCheckedInAt(), t)
		rsvp, err := p.rsvp(community, m, func(a *domain.Attendance) {
			a.CheckedInAt = domain.Earliest(a.CheckedInAt, checked)
			a.SetStatus(domain.AttendanceCheckedIn, checked)
		})
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, tx *sql.Tx) error {
			if err := rsvp(ctx, tx); err != nil {
				return err
			}
			return p.store.UpdateMember(ctx, tx, community, m.GetMemberId(), func(mm *domain.Member) (bool, error) {
				first := domain.Earliest(mm.FirstEventAt, checked)
				changed := !first.Equal(mm.FirstEventAt)
				mm.FirstEventAt = first
				return changed, nil
			})
		}, nil
	case *eventsv1.NoShow:
		marked := timeOr(m.GetMarkedAt(), t)
		return p.rsvp(community, m, func(a *domain.Attendance) {
			a.NoShowAt = domain.Latest(a.NoShowAt, marked)
			a.SetStatus(domain.AttendanceNoShow, marked)
		})
	case *eventsv1.FeedbackGiven:
		given := timeOr(m.GetGivenAt(), t)
		if m.GetRating() < 1 || m.GetRating() > 5 {
			return nil, fmt.Errorf("event %s rates %d", e.ID, m.GetRating())
		}
		return p.rsvp(community, m, func(a *domain.Attendance) {
			if !given.Before(a.RatedAt) {
				a.Rating, a.RatedAt = int(m.GetRating()), given
			}
		})
	}
	return nil, errSkip
}

// rsvp is a change of one member's RSVP for one occurrence.
func (p *Projection) rsvp(community string, m rsvpEvent, fn func(*domain.Attendance)) (change, error) {
	if m.GetOccurrenceId() == "" || m.GetMemberId() == "" {
		return nil, fmt.Errorf("RSVP event names no occurrence or member")
	}
	return func(ctx context.Context, tx *sql.Tx) error {
		return p.store.UpdateAttendance(ctx, tx, community, m.GetOccurrenceId(), m.GetMemberId(), func(a *domain.Attendance) {
			if m.GetEventId() != "" {
				a.EventID = m.GetEventId()
			}
			fn(a)
		})
	}, nil
}

// times records occurrences' times, dated version.
func (p *Projection) times(community, eventID string, occs []*eventsv1.OccurrenceTimes, version time.Time) change {
	return func(ctx context.Context, tx *sql.Tx) error {
		for _, o := range occs {
			if o.GetOccurrenceId() == "" {
				continue
			}
			start, end := timeOr(o.GetStartTime(), time.Time{}), timeOr(o.GetEndTime(), time.Time{})
			err := p.store.UpdateOccurrence(ctx, tx, community, o.GetOccurrenceId(), func(occ *domain.Occurrence) {
				if start.IsZero() || (occ.Known && version.Before(occ.Version)) {
					return
				}
				occ.EventID, occ.Start, occ.End, occ.Known, occ.Version = eventID, start, end, true, version
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
}

// cancel cancels one occurrence, or every occurrence of the event.
func (p *Projection) cancel(community, eventID, occurrenceID string) change {
	return func(ctx context.Context, tx *sql.Tx) error {
		ids := []string{occurrenceID}
		if occurrenceID == "" {
			var err error
			if ids, err = p.store.EventOccurrences(ctx, tx, community, eventID); err != nil {
				return err
			}
		}
		for _, id := range ids {
			if err := p.store.UpdateOccurrence(ctx, tx, community, id, func(o *domain.Occurrence) {
				o.Cancelled = true
				if o.EventID == "" {
					o.EventID = eventID
				}
			}); err != nil {
				return err
			}
		}
		return nil
	}
}
