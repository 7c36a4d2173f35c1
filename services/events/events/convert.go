package events

import (
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/services/events/domain"
)

// The protobuf forms of domain values, shared by the events and the API.
// Unknown protobuf values read as "" so validation names the field.

var kinds = map[domain.Kind]eventsv1.EventKind{
	domain.KindOnline: eventsv1.EventKind_EVENT_KIND_ONLINE, domain.KindOffline: eventsv1.EventKind_EVENT_KIND_OFFLINE,
	domain.KindHybrid: eventsv1.EventKind_EVENT_KIND_HYBRID,
}

// KindToProto converts a kind.
func KindToProto(k domain.Kind) eventsv1.EventKind { return kinds[k] }

// KindFromProto reads a kind.
func KindFromProto(k eventsv1.EventKind) domain.Kind {
	for d, p := range kinds {
		if p == k {
			return d
		}
	}
	return ""
}

var visibilities = map[domain.Visibility]eventsv1.Visibility{
	domain.VisibilityPublic: eventsv1.Visibility_VISIBILITY_PUBLIC, domain.VisibilityMembers: eventsv1.Visibility_VISIBILITY_MEMBERS,
}

// VisibilityToProto converts a visibility.
func VisibilityToProto(v domain.Visibility) eventsv1.Visibility { return visibilities[v] }

// VisibilityFromProto reads a visibility; unspecified reads as "" (the
// default, members).
func VisibilityFromProto(v eventsv1.Visibility) (domain.Visibility, bool) {
	if v == eventsv1.Visibility_VISIBILITY_UNSPECIFIED {
		return "", true
	}
	for d, p := range visibilities {
		if p == v {
			return d, true
		}
	}
	return "", false
}

var statuses = map[domain.Status]eventsv1.EventStatus{
	domain.StatusDraft: eventsv1.EventStatus_EVENT_STATUS_DRAFT, domain.StatusPublished: eventsv1.EventStatus_EVENT_STATUS_PUBLISHED,
	domain.StatusCompleted: eventsv1.EventStatus_EVENT_STATUS_COMPLETED, domain.StatusCancelled: eventsv1.EventStatus_EVENT_STATUS_CANCELLED,
}

// StatusToProto converts an event status.
func StatusToProto(s domain.Status) eventsv1.EventStatus { return statuses[s] }

// AnswerToProto converts an answer.
func AnswerToProto(a domain.Answer) eventsv1.RSVPAnswer {
	switch a {
	case domain.AnswerGoing:
		return eventsv1.RSVPAnswer_RSVP_ANSWER_GOING
	case domain.AnswerNotGoing:
		return eventsv1.RSVPAnswer_RSVP_ANSWER_NOT_GOING
	}
	return eventsv1.RSVPAnswer_RSVP_ANSWER_UNSPECIFIED
}

// AnswerFromProto reads an answer; unspecified is an error for the caller.
func AnswerFromProto(a eventsv1.RSVPAnswer) (domain.Answer, bool) {
	switch a {
	case eventsv1.RSVPAnswer_RSVP_ANSWER_GOING:
		return domain.AnswerGoing, true
	case eventsv1.RSVPAnswer_RSVP_ANSWER_NOT_GOING:
		return domain.AnswerNotGoing, true
	}
	return "", false
}

var rsvpStatuses = map[domain.RSVPStatus]eventsv1.RSVPStatus{
	domain.RSVPGoing: eventsv1.RSVPStatus_RSVP_STATUS_GOING, domain.RSVPWaitlisted: eventsv1.RSVPStatus_RSVP_STATUS_WAITLISTED,
	domain.RSVPOffered: eventsv1.RSVPStatus_RSVP_STATUS_OFFERED, domain.RSVPNotGoing: eventsv1.RSVPStatus_RSVP_STATUS_NOT_GOING,
	domain.RSVPCancelled: eventsv1.RSVPStatus_RSVP_STATUS_CANCELLED, domain.RSVPCheckedIn: eventsv1.RSVPStatus_RSVP_STATUS_CHECKED_IN,
	domain.RSVPNoShow: eventsv1.RSVPStatus_RSVP_STATUS_NO_SHOW, domain.RSVPOfferExpired: eventsv1.RSVPStatus_RSVP_STATUS_OFFER_EXPIRED,
}

// RSVPStatusToProto converts an RSVP status.
func RSVPStatusToProto(s domain.RSVPStatus) eventsv1.RSVPStatus { return rsvpStatuses[s] }
