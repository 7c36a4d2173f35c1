package api

import (
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
)

// grants is shorthand for a policy entry's grants.
type grants = map[auth.Role]auth.Scope

// Policy says who may call each RPC the events service serves. The HTTP
// calendar feeds are outside it: the public feed is open to anyone, a
// member's feed to whoever holds its secret address.
func Policy() auth.Policy {
	const (
		all  = auth.ScopeCommunity
		self = auth.ScopeSelf
	)
	// Organisers and staff run events.
	team := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all}
	// The worker drives the lifecycle: completion, no-shows, seat offers.
	lifecycle := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all, auth.Workload: all}
	// Everyone in the community reads its events.
	readers := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all, auth.Ambassador: all, auth.Member: all, auth.Workload: all}
	// Members act on their own RSVPs (and, as hosts, check people in to
	// their event: see door); the team for anyone.
	attendees := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all, auth.Ambassador: self, auth.Member: self}
	// The door of an occurrence — its attendee list and check-in: the team
	// and the worker for any, members only as hosts of the occurrence's
	// event, which the handler checks (runsDoor) before anything else.
	door := grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all, auth.Workload: all, auth.Ambassador: self, auth.Member: self}
	// Only the member themselves: their ratings and their private feed.
	own := grants{auth.Organiser: self, auth.Staff: self, auth.Ambassador: self, auth.Member: self}
	return auth.Policy{
		eventsv1connect.EventsServiceCreateEventProcedure:   {Grants: team},
		eventsv1connect.EventsServiceUpdateEventProcedure:   {Grants: team},
		eventsv1connect.EventsServicePublishEventProcedure:  {Grants: team},
		eventsv1connect.EventsServiceCancelEventProcedure:   {Grants: team},
		eventsv1connect.EventsServiceCompleteEventProcedure: {Grants: lifecycle},
		eventsv1connect.EventsServiceGetEventProcedure:      {Grants: readers},
		eventsv1connect.EventsServiceListEventsProcedure:    {Grants: readers},
		// The onboarding journey suggests events to new members.
		eventsv1connect.EventsServiceSuggestEventsProcedure: {Grants: readers},

		eventsv1connect.AttendanceServiceRSVPProcedure:             {Grants: attendees},
		eventsv1connect.AttendanceServiceCancelRSVPProcedure:       {Grants: attendees},
		eventsv1connect.AttendanceServiceAcceptSeatOfferProcedure:  {Grants: attendees},
		eventsv1connect.AttendanceServiceExpireSeatOffersProcedure: {Grants: lifecycle},
		eventsv1connect.AttendanceServiceGetRSVPProcedure: {Grants: grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all,
			auth.Ambassador: self, auth.Member: self, auth.Workload: all}},
		eventsv1connect.AttendanceServiceListAttendeesProcedure: {Grants: door},
		eventsv1connect.AttendanceServiceListMemberRSVPsProcedure: {Grants: grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all,
			auth.Ambassador: self, auth.Member: self}},
		eventsv1connect.AttendanceServiceListSeatOffersProcedure:     {Grants: grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all}},
		eventsv1connect.AttendanceServiceCheckInProcedure:            {Grants: attendees},
		eventsv1connect.AttendanceServiceMarkNoShowsProcedure:        {Grants: lifecycle},
		eventsv1connect.AttendanceServiceGiveFeedbackProcedure:       {Grants: own},
		eventsv1connect.AttendanceServiceGetFeedbackSummaryProcedure: {Grants: readers},
		eventsv1connect.AttendanceServiceListFeedbackProcedure:       {Grants: grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all}},
		// The erasure workflow; platform admins may run it by hand.
		eventsv1connect.AttendanceServiceForgetMemberProcedure: {Grants: grants{auth.PlatformAdmin: all, auth.Workload: all}},
		// Subject access: organisers for anyone, everyone for themselves.
		eventsv1connect.AttendanceServiceExportMemberDataProcedure: {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all,
			auth.Staff: self, auth.Ambassador: self, auth.Member: self}},

		eventsv1connect.CalendarServiceGetFeedTokenProcedure:    {Grants: own},
		eventsv1connect.CalendarServiceRotateFeedTokenProcedure: {Grants: own},
		eventsv1connect.CalendarServiceExportEventICSProcedure: {Grants: grants{auth.Organiser: all, auth.Staff: all, auth.PlatformAdmin: all,
			auth.Ambassador: all, auth.Member: all}},

		// The service's own audit log: organisers and platform admins read
		// the whole community's trail.
		auditv1connect.AuditServiceListAuditEntriesProcedure: {Grants: grants{auth.Organiser: all, auth.PlatformAdmin: all}},
		// The insights service reads the history to rebuild; platform admins may too.
		insightsv1connect.HistoryServiceReadHistoryProcedure: {Grants: map[auth.Role]auth.Scope{auth.PlatformAdmin: auth.ScopeCommunity, auth.Workload: auth.ScopeCommunity}},
	}
}
