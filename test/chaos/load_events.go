package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
)

// The events the RSVPs go to: a few, each with few seats, so the
// waitlists fill and cancellations hand seats on. They start an hour
// after the setup: RSVPs are open until the start and check-in from two
// hours before it.
const (
	eventCount  = 3
	minCapacity = 5
	maxCapacity = 20
)

// occurrence is one event's (only) occurrence.
type occurrence struct {
	event, id, title string
	capacity         int32
}

// seatState is what the last acknowledged call about a member's RSVP to
// an occurrence left.
type seatState int

const (
	seatNone seatState = iota
	seatGoing
	seatWaitlisted
	seatCancelled
	seatCheckedIn
	// seatUncertain: a call's outcome is unknown; the worker leaves the
	// pair alone from then on and the accounting does not judge it.
	seatUncertain
)

// seat is one member's RSVP to one occurrence, as a worker knows it.
type seat struct {
	member string
	occ    occurrence
	state  seatState
}

// setup creates and publishes the events and saves the announcements'
// templates. Its calls are retried while their outcome is unknown; a
// draft left behind by a create whose answer was lost is harmless.
func (l *loader) setup(ctx context.Context, announcements int) error {
	rng := rand.New(rand.NewPCG(l.seed, 0xe7e47))
	start := time.Now().Add(time.Hour).UTC().Truncate(time.Minute)
	for i := range eventCount {
		capacity := int32(minCapacity + rng.IntN(maxCapacity-minCapacity+1))
		sent := time.Now().UTC()
		var created *eventsv1.Event
		err := retry(ctx, func() error {
			res, err := l.eventsFront.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: community, Event: &eventsv1.EventSpec{
				Title: fmt.Sprintf("Chaos event %d", i+1), Kind: eventsv1.EventKind_EVENT_KIND_ONLINE, OnlineUrl: "https://meet.example.org/chaos",
				StartTime: timestamppb.New(start), EndTime: timestamppb.New(start.Add(2 * time.Hour)), TimeZone: "UTC",
				Capacity: capacity, Visibility: eventsv1.Visibility_VISIBILITY_MEMBERS}}))
			if err == nil {
				created = res.Msg.GetEvent()
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("create event %d: %w", i+1, err)
		}
		if err := retry(ctx, func() error {
			_, err := l.eventsFront.PublishEvent(ctx, connect.NewRequest(&eventsv1.PublishEventRequest{Community: community, Id: created.GetId()}))
			return err
		}); err != nil && classify(err) != refused {
			return fmt.Errorf("publish event %s: %w", created.GetId(), err)
		}
		// A publish whose answer was lost and was then refused as a
		// second publish: the event says whether it went through.
		var got *eventsv1.Event
		if err := retry(ctx, func() error {
			res, err := l.eventsFront.GetEvent(ctx, connect.NewRequest(&eventsv1.GetEventRequest{Community: community, Id: created.GetId()}))
			if err == nil {
				got = res.Msg.GetEvent()
			}
			return err
		}); err != nil {
			return fmt.Errorf("get event %s: %w", created.GetId(), err)
		}
		if got.GetStatus() != eventsv1.EventStatus_EVENT_STATUS_PUBLISHED || len(got.GetOccurrences()) != 1 {
			return fmt.Errorf("event %s: %s with %d occurrences after publishing", got.GetId(), got.GetStatus(), len(got.GetOccurrences()))
		}
		o := occurrence{event: got.GetId(), id: got.GetOccurrences()[0].GetId(), title: got.GetSpec().GetTitle(), capacity: got.GetOccurrences()[0].GetCapacity()}
		l.occurrences = append(l.occurrences, o)
		l.log.add(entry{Op: "event", Sent: sent, Event: o.event, Occurrence: o.id, Title: o.title, Value: o.capacity, Replica: "front", Outcome: ok})
	}
	for n := 1; n <= announcements; n++ {
		if err := retry(ctx, func() error {
			_, err := l.templates.SaveTemplate(ctx, connect.NewRequest(&communicationsv1.SaveTemplateRequest{Community: community, Name: announcementTemplate(n),
				Variants: []*communicationsv1.TemplateVariant{{Subject: announcementSubject(n),
					TextBody: "News for {{.Member.DisplayName}}.\n\nUnsubscribe: {{.UnsubscribeURL}}\n"}}}))
			return err
		}); err != nil {
			return fmt.Errorf("save template %s: %w", announcementTemplate(n), err)
		}
	}
	return nil
}

// retry calls fn until it succeeds, is refused, or a minute has passed.
func retry(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 0; attempt < 60; attempt++ {
		if err = fn(); err == nil || classify(err) == refused || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Second)
	}
	return err
}

// rsvpTarget picks one of the worker's members and an occurrence they
// have no answer for (or withdrew from), or nil after a few misses.
func (l *loader) rsvpTarget(rng *rand.Rand, mine []*owned, seats *[]*seat) *seat {
	for range 5 {
		m, o := mine[rng.IntN(len(mine))], l.occurrences[rng.IntN(len(l.occurrences))]
		var found *seat
		for _, s := range *seats {
			if s.member == m.id && s.occ.id == o.id {
				found = s
			}
		}
		switch {
		case found == nil:
			s := &seat{member: m.id, occ: o}
			*seats = append(*seats, s)
			return s
		case found.state == seatCancelled:
			return found
		}
	}
	return nil
}

// pickSeat picks one of seats in one of states, or nil.
func pickSeat(rng *rand.Rand, seats []*seat, states ...seatState) *seat {
	var in []*seat
	for _, s := range seats {
		for _, st := range states {
			if s.state == st {
				in = append(in, s)
			}
		}
	}
	if len(in) == 0 {
		return nil
	}
	return in[rng.IntN(len(in))]
}

// rsvp answers going for s's member, as the organising team does for a
// member; the answer says whether they got a seat or a waitlist place.
func (l *loader) rsvp(ctx context.Context, r int, s *seat) {
	sent := time.Now().UTC()
	res, err := l.attendance[r].RSVP(ctx, connect.NewRequest(&eventsv1.RSVPRequest{Community: community, EventId: s.occ.event,
		OccurrenceId: s.occ.id, MemberId: s.member, Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING}))
	e := entry{Op: "rsvp", Sent: sent, Member: s.member, Event: s.occ.event, Occurrence: s.occ.id, Replica: l.eventNames[r]}
	e.Outcome = classify(err)
	if err == nil {
		e.Outcome = ok
		if rs := res.Msg.GetRsvps(); len(rs) == 1 {
			e.Status, e.Position = statusName(rs[0].GetStatus()), rs[0].GetWaitlistPosition()
		} else {
			e.Error = fmt.Sprintf("answered with %d RSVPs", len(rs))
		}
	}
	if err != nil {
		e.Error = err.Error()
	}
	l.log.add(e)
	s.state = nextState(s.state, e.Outcome, e.Status)
}

// cancel withdraws s's member.
func (l *loader) cancel(ctx context.Context, r int, s *seat) {
	sent := time.Now().UTC()
	_, err := l.attendance[r].CancelRSVP(ctx, connect.NewRequest(&eventsv1.CancelRSVPRequest{Community: community, EventId: s.occ.event,
		OccurrenceId: s.occ.id, MemberId: s.member}))
	out := ok
	if err != nil {
		out = classify(err)
	}
	l.log.add(entry{Op: "cancel", Sent: sent, Member: s.member, Event: s.occ.event, Occurrence: s.occ.id, Replica: l.eventNames[r],
		Outcome: out, Error: errString(err)})
	s.state = nextState(s.state, out, "cancelled")
}

// checkIn checks s's member in at the door, as the organising team does.
func (l *loader) checkIn(ctx context.Context, r int, s *seat) {
	sent := time.Now().UTC()
	_, err := l.attendance[r].CheckIn(ctx, connect.NewRequest(&eventsv1.CheckInRequest{Community: community, OccurrenceId: s.occ.id, MemberId: s.member}))
	out := ok
	if err != nil {
		out = classify(err)
	}
	l.log.add(entry{Op: "checkin", Sent: sent, Member: s.member, Event: s.occ.event, Occurrence: s.occ.id, Replica: l.eventNames[r],
		Outcome: out, Error: errString(err)})
	s.state = nextState(s.state, out, "checked_in")
}

// nextState is a pair's state after a call with outcome out that, when
// acknowledged, left the RSVP in status.
func nextState(cur seatState, out outcome, status string) seatState {
	switch out {
	case unknown:
		return seatUncertain
	case refused:
		// Refused calls wrote nothing; a refused RSVP leaves a new pair
		// as it was (none), which may be tried again.
		return cur
	}
	switch status {
	case "going":
		return seatGoing
	case "waitlisted":
		return seatWaitlisted
	case "cancelled":
		return seatCancelled
	case "checked_in":
		return seatCheckedIn
	}
	return seatUncertain // an answer the load does not expect: judge nothing
}

// statusName is the lower-case name of an RSVP status, as the load log
// and the accounting use it.
func statusName(s eventsv1.RSVPStatus) string {
	switch s {
	case eventsv1.RSVPStatus_RSVP_STATUS_GOING:
		return "going"
	case eventsv1.RSVPStatus_RSVP_STATUS_WAITLISTED:
		return "waitlisted"
	case eventsv1.RSVPStatus_RSVP_STATUS_OFFERED:
		return "offered"
	case eventsv1.RSVPStatus_RSVP_STATUS_NOT_GOING:
		return "not_going"
	case eventsv1.RSVPStatus_RSVP_STATUS_CANCELLED:
		return "cancelled"
	case eventsv1.RSVPStatus_RSVP_STATUS_CHECKED_IN:
		return "checked_in"
	case eventsv1.RSVPStatus_RSVP_STATUS_NO_SHOW:
		return "no_show"
	case eventsv1.RSVPStatus_RSVP_STATUS_OFFER_EXPIRED:
		return "offer_expired"
	}
	return "unspecified"
}
