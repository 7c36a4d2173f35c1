// Package events holds what the events service publishes — the topic, the
// CloudEvents types and sources, the protobuf payloads — and what it
// consumes from members.v1 (erasure). Consumers of events.v1 use it to
// decode what they read.
package events

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/events/domain"
)

// CloudEvents types of events.v1.
const (
	TypeEventScheduled   = "kinship.events.v1.EventScheduled"
	TypeEventUpdated     = "kinship.events.v1.EventUpdated"
	TypeEventCancelled   = "kinship.events.v1.EventCancelled"
	TypeRSVPReceived     = "kinship.events.v1.RSVPReceived"
	TypeRSVPCancelled    = "kinship.events.v1.RSVPCancelled"
	TypeWaitlisted       = "kinship.events.v1.Waitlisted"
	TypeSeatOffered      = "kinship.events.v1.SeatOffered"
	TypeSeatOfferExpired = "kinship.events.v1.SeatOfferExpired"
	TypeSeatTaken        = "kinship.events.v1.SeatTaken"
	TypeCheckedIn        = "kinship.events.v1.CheckedIn"
	TypeNoShow           = "kinship.events.v1.NoShow"
	TypeFeedbackGiven    = "kinship.events.v1.FeedbackGiven"
	TypeEventCompleted   = "kinship.events.v1.EventCompleted"
)

// Topic is where a community's event events go: keyed by member id for
// what concerns a member, by event id otherwise.
func Topic(community string) string { return community + ".events.v1" }

// Source is the CloudEvents source of a community's event events.
func Source(community string) string { return "/communities/" + community + "/events" }

// Factory builds the events service's events, each with a fresh id.
type Factory struct{}

func (Factory) event(community, key, subject, typ string, at time.Time, payload proto.Message) (kafka.Event, error) {
	return kafka.NewProto(kafka.Event{Type: typ, Source: Source(community), Subject: subject, Time: at.UTC(),
		Topic: Topic(community), Key: key}, payload)
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func times(occs []domain.Occurrence) []*eventsv1.OccurrenceTimes {
	out := make([]*eventsv1.OccurrenceTimes, 0, len(occs))
	for _, o := range occs {
		if o.Status == domain.OccurrenceCancelled {
			continue
		}
		out = append(out, &eventsv1.OccurrenceTimes{OccurrenceId: o.ID, StartTime: ts(o.Start), EndTime: ts(o.End)})
	}
	return out
}

// EventScheduled is e being published with its occurrences.
func (f Factory) EventScheduled(e domain.Event, occs []domain.Occurrence) (kafka.Event, error) {
	return f.event(e.Community, e.ID, e.ID, TypeEventScheduled, e.PublishedAt, &eventsv1.EventScheduled{
		EventId: e.ID, Community: e.Community, Title: e.Title, Kind: KindToProto(e.Kind), Visibility: VisibilityToProto(e.Visibility),
		TimeZone: e.TimeZone, Capacity: int32(e.Capacity), Occurrences: times(occs), Tags: e.Tags,
		PublishedAt: ts(e.PublishedAt), SplitFromId: e.SplitFromID,
	})
}

// EventUpdated is a change of a published event, or of one occurrence.
func (f Factory) EventUpdated(e domain.Event, occurrenceID string, changed []string, occs []domain.Occurrence) (kafka.Event, error) {
	return f.event(e.Community, e.ID, e.ID, TypeEventUpdated, e.UpdatedAt, &eventsv1.EventUpdated{
		EventId: e.ID, Community: e.Community, OccurrenceId: occurrenceID, Changed: changed, Sequence: int32(e.Sequence),
		Occurrences: times(occs), UpdatedAt: ts(e.UpdatedAt), Status: StatusToProto(e.Status),
	})
}

// EventCancelled is e, or its occurrence occurrenceID, being cancelled.
func (f Factory) EventCancelled(e domain.Event, occurrenceID, reason string, at time.Time) (kafka.Event, error) {
	return f.event(e.Community, e.ID, e.ID, TypeEventCancelled, at, &eventsv1.EventCancelled{
		EventId: e.ID, Community: e.Community, OccurrenceId: occurrenceID, Reason: reason, CancelledAt: ts(at), Sequence: int32(e.Sequence),
	})
}

// RSVPReceived is a member's answer and where it left them.
func (f Factory) RSVPReceived(r domain.RSVP, answer domain.Answer) (kafka.Event, error) {
	return f.event(r.Community, r.MemberID, r.OccurrenceID, TypeRSVPReceived, r.AnsweredAt, &eventsv1.RSVPReceived{
		EventId: r.EventID, OccurrenceId: r.OccurrenceID, Community: r.Community, MemberId: r.MemberID,
		ReceivedAt: ts(r.AnsweredAt), Answer: AnswerToProto(answer), Status: RSVPStatusToProto(r.Status), Series: r.Series,
	})
}

// RSVPCancelled is a member withdrawing from an occurrence.
func (f Factory) RSVPCancelled(r domain.RSVP, previous domain.RSVPStatus, at time.Time) (kafka.Event, error) {
	return f.event(r.Community, r.MemberID, r.OccurrenceID, TypeRSVPCancelled, at, &eventsv1.RSVPCancelled{
		EventId: r.EventID, OccurrenceId: r.OccurrenceID, Community: r.Community, MemberId: r.MemberID,
		CancelledAt: ts(at), PreviousStatus: RSVPStatusToProto(previous),
	})
}

// Waitlisted is a member joining the waitlist at r.Position.
func (f Factory) Waitlisted(r domain.RSVP) (kafka.Event, error) {
	return f.event(r.Community, r.MemberID, r.OccurrenceID, TypeWaitlisted, r.AnsweredAt, &eventsv1.Waitlisted{
		EventId: r.EventID, OccurrenceId: r.OccurrenceID, Community: r.Community, MemberId: r.MemberID,
		WaitlistedAt: ts(r.AnsweredAt), Position: int32(r.Position),
	})
}

// SeatOffered is a seat held for r's member until r.OfferExpiresAt.
func (f Factory) SeatOffered(r domain.RSVP, at time.Time) (kafka.Event, error) {
	return f.event(r.Community, r.MemberID, r.OccurrenceID, TypeSeatOffered, at, &eventsv1.SeatOffered{
		EventId: r.EventID, OccurrenceId: r.OccurrenceID, Community: r.Community, MemberId: r.MemberID,
		OfferedAt: ts(at), ExpiresAt: ts(r.OfferExpiresAt),
	})
}

// SeatOfferExpired is r's member letting an offer lapse.
func (f Factory) SeatOfferExpired(r domain.RSVP, at time.Time) (kafka.Event, error) {
	return f.event(r.Community, r.MemberID, r.OccurrenceID, TypeSeatOfferExpired, at, &eventsv1.SeatOfferExpired{
		EventId: r.EventID, OccurrenceId: r.OccurrenceID, Community: r.Community, MemberId: r.MemberID, ExpiredAt: ts(at),
	})
}

// SeatTaken is r's member taking a seat.
func (f Factory) SeatTaken(r domain.RSVP, fromWaitlist bool, at time.Time) (kafka.Event, error) {
	return f.event(r.Community, r.MemberID, r.OccurrenceID, TypeSeatTaken, at, &eventsv1.SeatTaken{
		EventId: r.EventID, OccurrenceId: r.OccurrenceID, Community: r.Community, MemberId: r.MemberID,
		TakenAt: ts(at), FromWaitlist: fromWaitlist,
	})
}

// CheckedIn is r's member attending.
func (f Factory) CheckedIn(r domain.RSVP) (kafka.Event, error) {
	return f.event(r.Community, r.MemberID, r.OccurrenceID, TypeCheckedIn, r.CheckedInAt, &eventsv1.CheckedIn{
		EventId: r.EventID, OccurrenceId: r.OccurrenceID, Community: r.Community, MemberId: r.MemberID, CheckedInAt: ts(r.CheckedInAt),
	})
}

// NoShow is r's member missing an occurrence they held a seat for.
func (f Factory) NoShow(r domain.RSVP, at time.Time) (kafka.Event, error) {
	return f.event(r.Community, r.MemberID, r.OccurrenceID, TypeNoShow, at, &eventsv1.NoShow{
		EventId: r.EventID, OccurrenceId: r.OccurrenceID, Community: r.Community, MemberId: r.MemberID, MarkedAt: ts(at),
	})
}

// FeedbackGiven is a rating (never the comment).
func (f Factory) FeedbackGiven(fb domain.Feedback) (kafka.Event, error) {
	return f.event(fb.Community, fb.MemberID, fb.OccurrenceID, TypeFeedbackGiven, fb.GivenAt, &eventsv1.FeedbackGiven{
		EventId: fb.EventID, OccurrenceId: fb.OccurrenceID, Community: fb.Community, MemberId: fb.MemberID,
		GivenAt: ts(fb.GivenAt), Rating: int32(fb.Rating),
	})
}

// EventCompleted is e completing, with its hosts and attendance; keyed by
// the event.
func (f Factory) EventCompleted(e domain.Event, a domain.Attendance, at time.Time) (kafka.Event, error) {
	return f.event(e.Community, e.ID, e.ID, TypeEventCompleted, at, &eventsv1.EventCompleted{
		EventId: e.ID, Community: e.Community, HostIds: e.HostIDs, OrganiserIds: e.OrganiserIDs, CompletedAt: ts(at),
		Occurrences: int32(a.Occurrences), SeatsTaken: int32(a.SeatsTaken), Attended: int32(a.Attended), NoShows: int32(a.NoShows),
	})
}

// DecodeEventCompleted reads an EventCompleted event's payload.
func DecodeEventCompleted(e kafka.Event) (*eventsv1.EventCompleted, error) {
	var m eventsv1.EventCompleted
	if err := kafka.Decode(e, TypeEventCompleted, &m); err != nil {
		return nil, err
	}
	if m.GetEventId() == "" || m.GetCommunity() == "" {
		return nil, fmt.Errorf("decode EventCompleted %s: event id or community missing", e.ID)
	}
	return &m, nil
}
