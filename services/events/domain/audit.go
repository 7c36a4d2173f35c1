package domain

// Audit actions: what each change to events, seats and feeds records in
// the audit log, in the change's own transaction. An entry names the actor
// and the changed record by id only (an event, an occurrence, an RSVP, a
// member's pseudonymous id), never a name, an address or free text.
const (
	ActionEventCreated   = "event.created"
	ActionEventUpdated   = "event.updated"
	ActionEventPublished = "event.published"
	ActionEventCancelled = "event.cancelled"
	ActionEventCompleted = "event.completed"

	ActionRSVPAnswered      = "rsvp.answered"
	ActionRSVPCancelled     = "rsvp.cancelled"
	ActionSeatOfferAccepted = "seat_offer.accepted"
	ActionSeatOffersExpired = "seat_offers.expired"
	ActionCheckedIn         = "rsvp.checked_in"
	ActionNoShowsMarked     = "no_shows.marked"
	ActionFeedbackGiven     = "feedback.given"
	ActionFeedbackListed    = "feedback.listed"

	ActionFeedTokenCreated = "feed_token.created"
	ActionFeedTokenRotated = "feed_token.rotated"

	ActionMemberForgotten = "member.forgotten"
	// ActionMemberExported: a member's data was read out (subject access).
	ActionMemberExported = "member.exported"
)

// Audit target types.
const (
	TargetEvent      = "event"
	TargetOccurrence = "occurrence"
	TargetRSVP       = "rsvp"
	TargetMember     = "member"
)
