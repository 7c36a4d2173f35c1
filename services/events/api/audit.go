package api

import (
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/services/events/domain"
)

// Catalogue says what each procedure that changes data records in the
// audit log, in the same transaction as its change: one entry per change
// (a repeated answer, an already cancelled event, a token that already
// existed change nothing and record nothing). The sweep records the same
// actions as the procedures it stands in for, with "events/sweep" as the
// actor; the members.v1 erasure consumer records member.forgotten as
// "events/erasures". Reading feedback comments (ListFeedback) changes no
// data and is recorded on its own, as feedback.listed.
func Catalogue() audit.Catalogue {
	return audit.Catalogue{
		eventsv1connect.EventsServiceCreateEventProcedure: {domain.ActionEventCreated},
		// Editing one occurrence names it; "this and following" also
		// creates the series split off.
		eventsv1connect.EventsServiceUpdateEventProcedure:   {domain.ActionEventUpdated, domain.ActionEventCreated},
		eventsv1connect.EventsServicePublishEventProcedure:  {domain.ActionEventPublished},
		eventsv1connect.EventsServiceCancelEventProcedure:   {domain.ActionEventCancelled},
		eventsv1connect.EventsServiceCompleteEventProcedure: {domain.ActionEventCompleted},

		// One entry per call, naming the RSVP (or the event, for a series).
		eventsv1connect.AttendanceServiceRSVPProcedure:             {domain.ActionRSVPAnswered},
		eventsv1connect.AttendanceServiceCancelRSVPProcedure:       {domain.ActionRSVPCancelled},
		eventsv1connect.AttendanceServiceAcceptSeatOfferProcedure:  {domain.ActionSeatOfferAccepted},
		eventsv1connect.AttendanceServiceExpireSeatOffersProcedure: {domain.ActionSeatOffersExpired},
		eventsv1connect.AttendanceServiceCheckInProcedure:          {domain.ActionCheckedIn},
		eventsv1connect.AttendanceServiceMarkNoShowsProcedure:      {domain.ActionNoShowsMarked},
		eventsv1connect.AttendanceServiceGiveFeedbackProcedure:     {domain.ActionFeedbackGiven},
		eventsv1connect.AttendanceServiceForgetMemberProcedure:     {domain.ActionMemberForgotten},

		// GetFeedToken stores a member's first token.
		eventsv1connect.CalendarServiceGetFeedTokenProcedure:    {domain.ActionFeedTokenCreated},
		eventsv1connect.CalendarServiceRotateFeedTokenProcedure: {domain.ActionFeedTokenRotated},
	}
}
