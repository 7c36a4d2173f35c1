package chaos

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	published "github.com/kinshiphq/kinship/services/events/events"
)

// pairKey names one member's RSVP to one occurrence.
type pairKey struct{ member, occurrence string }

// pairOps are the load's calls about one pair, in the order made (one
// worker makes them, one at a time), without the refused ones, which
// wrote nothing.
type pairOps struct {
	ops       []entry
	uncertain bool // a call's outcome is unknown
}

// lastAcked is the pair's last acknowledged call, if any.
func (p *pairOps) lastAcked() (entry, bool) {
	for i := len(p.ops) - 1; i >= 0; i-- {
		if p.ops[i].Outcome == ok {
			return p.ops[i], true
		}
	}
	return entry{}, false
}

// rsvpLog reads the load log's events and RSVP calls.
func rsvpLog(log *loadLog) (occs []occurrence, pairs map[pairKey]*pairOps, waitlisted map[string][]entry) {
	log.mu.Lock()
	defer log.mu.Unlock()
	pairs, waitlisted = map[pairKey]*pairOps{}, map[string][]entry{}
	for _, e := range log.entries {
		switch e.Op {
		case "event":
			occs = append(occs, occurrence{event: e.Event, id: e.Occurrence, title: e.Title, capacity: e.Value})
		case "rsvp", "cancel", "checkin":
			if e.Outcome == refused {
				continue
			}
			k := pairKey{e.Member, e.Occurrence}
			if pairs[k] == nil {
				pairs[k] = &pairOps{}
			}
			pairs[k].ops = append(pairs[k].ops, e)
			pairs[k].uncertain = pairs[k].uncertain || e.Outcome == unknown
			if e.Op == "rsvp" && e.Outcome == ok && e.Status == "waitlisted" {
				waitlisted[e.Occurrence] = append(waitlisted[e.Occurrence], e)
			}
		}
	}
	return occs, pairs, waitlisted
}

// accountRSVPs compares the events service's attendee lists with the
// load log:
//
//   - rsvpsLost: pairs without an unknown call whose last acknowledged
//     call is not what the service holds: an RSVP acknowledged with a
//     seat that is not going, one acknowledged on the waitlist that is
//     neither waitlisted nor offered a seat, a cancellation that is not
//     cancelled, or no RSVP at all.
//   - checkInsLost: the same for pairs whose last acknowledged call was a
//     check-in, which must be checked in.
//   - seatsOversold: seats held (going, offered, checked in, no-show) or
//     counted on the occurrence beyond its capacity.
//   - waitlistBroken: waitlist places out of the order the service
//     acknowledged them in: two acknowledged places where the one
//     answered before the other was asked has the higher (or the same)
//     position; a member still waiting at another position than the one
//     acknowledged; and a seat offered to a member behind one still
//     waiting (freed seats go to the lowest position).
//
// It also returns the RSVPs holding a seat offer at the end.
func accountRSVPs(ctx context.Context, l *loader, log *loadLog) (lost, checkInsLost, oversold, broken int, offered []pairKey, err error) {
	occs, pairs, waitlisted := rsvpLog(log)
	final := map[pairKey]*eventsv1.RSVP{}
	for _, o := range occs {
		rsvps, counted, err := attendees(ctx, l, o)
		if err != nil {
			return 0, 0, 0, 0, nil, err
		}
		holding, minWaiting := int32(0), int32(-1)
		for _, r := range rsvps {
			final[pairKey{r.GetMemberId(), o.id}] = r
			switch statusName(r.GetStatus()) {
			case "going", "offered", "checked_in", "no_show":
				holding++
			case "waitlisted":
				if minWaiting < 0 || r.GetWaitlistPosition() < minWaiting {
					minWaiting = r.GetWaitlistPosition()
				}
			}
		}
		oversold += int(max(holding-o.capacity, counted-o.capacity, 0))
		for _, r := range rsvps {
			if statusName(r.GetStatus()) != "offered" {
				continue
			}
			offered = append(offered, pairKey{r.GetMemberId(), o.id})
			if minWaiting >= 0 && r.GetWaitlistPosition() > minWaiting {
				broken++
			}
		}
		// Acknowledged places in the order they were acknowledged.
		places := waitlisted[o.id]
		for i, b := range places {
			for j, a := range places {
				if i != j && a.At.Before(b.Sent) && a.Position >= b.Position {
					broken++
					break
				}
			}
		}
	}
	for k, p := range pairs {
		last, acked := p.lastAcked()
		if p.uncertain || !acked {
			continue
		}
		r := final[k]
		got := "none"
		if r != nil {
			got = statusName(r.GetStatus())
		}
		switch {
		case last.Op == "checkin":
			if got != "checked_in" {
				checkInsLost++
			}
		case last.Op == "cancel":
			if got != "cancelled" {
				lost++
			}
		case last.Status == "going":
			if got != "going" {
				lost++
			}
		case last.Status == "waitlisted":
			switch {
			case got != "waitlisted" && got != "offered":
				lost++
			case r.GetWaitlistPosition() != last.Position:
				broken++
			}
		}
	}
	return lost, checkInsLost, oversold, broken, offered, nil
}

// attendees reads every RSVP of o through the events front, and the
// seats its occurrence counts.
func attendees(ctx context.Context, l *loader, o occurrence) ([]*eventsv1.RSVP, int32, error) {
	var out []*eventsv1.RSVP
	token := ""
	for {
		var res *connect.Response[eventsv1.ListAttendeesResponse]
		err := retry(ctx, func() error {
			var err error
			res, err = l.attendanceFront.ListAttendees(ctx, connect.NewRequest(&eventsv1.ListAttendeesRequest{Community: community,
				OccurrenceId: o.id, PageSize: 500, PageToken: token}))
			return err
		})
		if err != nil {
			return nil, 0, fmt.Errorf("attendees of %s: %w", o.id, err)
		}
		out = append(out, res.Msg.GetRsvps()...)
		if token = res.Msg.GetNextPageToken(); token == "" {
			break
		}
	}
	var ev *eventsv1.Event
	err := retry(ctx, func() error {
		res, err := l.eventsFront.GetEvent(ctx, connect.NewRequest(&eventsv1.GetEventRequest{Community: community, Id: o.event}))
		if err == nil {
			ev = res.Msg.GetEvent()
		}
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("event %s: %w", o.event, err)
	}
	for _, occ := range ev.GetOccurrences() {
		if occ.GetId() == o.id {
			return out, occ.GetSeatsTaken(), nil
		}
	}
	return nil, 0, fmt.Errorf("event %s has no occurrence %s", o.event, o.id)
}

// rsvpEvent is one member's RSVP event, as the order check reads it.
type rsvpEvent struct {
	typ          string
	status       string // RSVPReceived: where it left them; RSVPCancelled: what they held
	notGoing     bool   // RSVPReceived: the answer was not going
	fromWaitlist bool   // SeatTaken
}

// eventsTopic reads <community>.events.v1 and returns, per member and
// occurrence, the member's RSVP events in topic order without repeats of
// an event id (counted apart).
func eventsTopic(ctx context.Context, broker string) (map[pairKey][]rsvpEvent, int, error) {
	events, dups, err := distinctEvents(ctx, broker, published.Topic(community))
	if err != nil {
		return nil, 0, err
	}
	out := map[pairKey][]rsvpEvent{}
	for _, e := range events {
		re := rsvpEvent{typ: e.Type}
		switch e.Type {
		case published.TypeRSVPReceived:
			var p eventsv1.RSVPReceived
			if err := kafka.Decode(e, e.Type, &p); err != nil {
				return nil, 0, err
			}
			re.status, re.notGoing = statusName(p.GetStatus()), p.GetAnswer() == eventsv1.RSVPAnswer_RSVP_ANSWER_NOT_GOING
		case published.TypeRSVPCancelled:
			var p eventsv1.RSVPCancelled
			if err := kafka.Decode(e, e.Type, &p); err != nil {
				return nil, 0, err
			}
			re.status = statusName(p.GetPreviousStatus())
		case published.TypeSeatTaken:
			var p eventsv1.SeatTaken
			if err := kafka.Decode(e, e.Type, &p); err != nil {
				return nil, 0, err
			}
			re.fromWaitlist = p.GetFromWaitlist()
		case published.TypeWaitlisted, published.TypeSeatOffered, published.TypeSeatOfferExpired, published.TypeCheckedIn, published.TypeNoShow:
		default:
			continue // about an event, keyed by its id
		}
		// Member events are keyed by member id, with the occurrence as
		// their subject.
		k := pairKey{e.Key, e.Subject}
		out[k] = append(out[k], re)
	}
	return out, dups, nil
}

// rsvpOrder replays one pair's events and counts those that cannot follow
// the ones before them (an event out of order, or one missing between),
// and whether the last left a step half done (going or waitlisted
// received, but its SeatTaken or Waitlisted not there).
func rsvpOrder(evs []rsvpEvent) (disorder int, halfDone bool) {
	st := "none"
	step := func(allowed bool, next string) {
		if !allowed {
			disorder++
		}
		st = next
	}
	free := func() bool { return st == "none" || st == "cancelled" || st == "not_going" || st == "offer_expired" }
	for _, e := range evs {
		switch e.typ {
		case published.TypeRSVPReceived:
			switch {
			case e.notGoing:
				step(st != "await_seat" && st != "await_waitlist", "not_going")
			case e.status == "going":
				step(free(), "await_seat")
			default:
				step(free(), "await_waitlist")
			}
		case published.TypeSeatTaken:
			if e.fromWaitlist {
				step(st == "offered", "going")
			} else {
				step(st == "await_seat", "going")
			}
		case published.TypeWaitlisted:
			step(st == "await_waitlist", "waitlisted")
		case published.TypeSeatOffered:
			step(st == "waitlisted", "offered")
		case published.TypeSeatOfferExpired:
			step(st == "offered", "offer_expired")
		case published.TypeRSVPCancelled:
			step(st == e.status, "cancelled")
		case published.TypeCheckedIn:
			step(st == "going" || st == "no_show", "checked_in")
		case published.TypeNoShow:
			step(st == "going", "no_show")
		}
	}
	return disorder, st == "await_seat" || st == "await_waitlist"
}

// rsvpEventFigures checks events.v1 against the load log: acknowledged
// RSVPs, cancellations and check-ins without their event (RSVPReceived,
// RSVPCancelled, CheckedIn) are lost, as is the second half of a step
// (SeatTaken or Waitlisted after RSVPReceived); events that cannot follow
// the ones before them on their key are out of order. It also returns
// how many seat offers each pair was made (SeatOffered).
func rsvpEventFigures(ctx context.Context, broker string, log *loadLog) (lost, disorder, dups int, offers map[pairKey]int, err error) {
	_, pairs, _ := rsvpLog(log)
	byPair, dups, err := eventsTopic(ctx, broker)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	offers = map[pairKey]int{}
	for k, evs := range byPair {
		d, half := rsvpOrder(evs)
		disorder += d
		if half {
			lost++
		}
		for _, e := range evs {
			if e.typ == published.TypeSeatOffered {
				offers[k]++
			}
		}
	}
	want := map[string]string{"rsvp": published.TypeRSVPReceived, "cancel": published.TypeRSVPCancelled, "checkin": published.TypeCheckedIn}
	for k, p := range pairs {
		acked := map[string]int{}
		for _, e := range p.ops {
			if e.Outcome == ok {
				acked[want[e.Op]]++
			}
		}
		seen := map[string]int{}
		for _, e := range byPair[k] {
			seen[e.typ]++
		}
		for typ, n := range acked {
			lost += max(n-seen[typ], 0)
		}
	}
	return lost, disorder, dups, offers, nil
}
