package events_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/services/events/api"
	"github.com/kinshiphq/kinship/services/insights/insightstest"
)

// Outcomes of a guarded call.
const (
	unauthenticated = authtest.Unauthenticated
	denied          = authtest.Denied
	allowed         = authtest.Allowed
)

// expectations is the access table of the events service, written out by
// hand: a procedure missing here fails TestEveryRPCIsGuarded. Columns:
// anonymous, organiser, staff, ambassador, member (each token naming the
// member the call is about), platform admin, workload. The organiser's
// API key acts as an organiser, except where only one's own record will
// do (a key has no member record).
var expectations = authtest.Table{
	eventsv1connect.EventsServiceCreateEventProcedure:   authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	eventsv1connect.EventsServiceUpdateEventProcedure:   authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	eventsv1connect.EventsServicePublishEventProcedure:  authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	eventsv1connect.EventsServiceCancelEventProcedure:   authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	eventsv1connect.EventsServiceCompleteEventProcedure: authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	eventsv1connect.EventsServiceGetEventProcedure:      authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),
	eventsv1connect.EventsServiceListEventsProcedure:    authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),
	eventsv1connect.EventsServiceSuggestEventsProcedure: authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),

	eventsv1connect.AttendanceServiceRSVPProcedure:               authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),
	eventsv1connect.AttendanceServiceCancelRSVPProcedure:         authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),
	eventsv1connect.AttendanceServiceAcceptSeatOfferProcedure:    authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),
	eventsv1connect.AttendanceServiceExpireSeatOffersProcedure:   authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	eventsv1connect.AttendanceServiceGetRSVPProcedure:            authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),
	eventsv1connect.AttendanceServiceListAttendeesProcedure:      authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	eventsv1connect.AttendanceServiceListMemberRSVPsProcedure:    authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),
	eventsv1connect.AttendanceServiceListSeatOffersProcedure:     authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	eventsv1connect.AttendanceServiceCheckInProcedure:            authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),
	eventsv1connect.AttendanceServiceMarkNoShowsProcedure:        authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	eventsv1connect.AttendanceServiceGiveFeedbackProcedure:       ownRow(),
	eventsv1connect.AttendanceServiceGetFeedbackSummaryProcedure: authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, allowed),
	eventsv1connect.AttendanceServiceListFeedbackProcedure:       authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	eventsv1connect.AttendanceServiceForgetMemberProcedure:       authtest.Row(unauthenticated, denied, denied, denied, denied, allowed, allowed),
	// Subject access: each for themselves, organisers for anyone.
	eventsv1connect.AttendanceServiceExportMemberDataProcedure: authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),

	eventsv1connect.CalendarServiceGetFeedTokenProcedure:    ownRow(),
	eventsv1connect.CalendarServiceRotateFeedTokenProcedure: ownRow(),
	eventsv1connect.CalendarServiceExportEventICSProcedure:  authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),

	auditv1connect.AuditServiceListAuditEntriesProcedure: authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	insightsv1connect.HistoryServiceReadHistoryProcedure: authtest.Row(unauthenticated, denied, denied, denied, denied, allowed, allowed),
}

// row fills a table row: anonymous callers get none, bad tokens are
// unauthenticated, another community's organiser is denied, the API key
// (an organiser key) is treated as an organiser, and the roles follow.

// ownRow is the row of RPCs only a member may call for themselves: an
// API key and a platform admin have no member record.
func ownRow() map[string]string {
	r := authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, denied, denied)
	r["api-key"] = denied
	return r
}

func TestEveryRPCIsGuarded(t *testing.T) {
	services := []protoreflect.ServiceDescriptor{
		eventsv1.File_kinship_events_v1_events_service_proto.Services().ByName("EventsService"),
		eventsv1.File_kinship_events_v1_events_service_proto.Services().ByName("AttendanceService"),
		eventsv1.File_kinship_events_v1_events_service_proto.Services().ByName("CalendarService"),
		auditv1.File_kinship_audit_v1_audit_proto.Services().ByName("AuditService"),
		insightsv1.File_kinship_insights_v1_history_proto.Services().ByName("HistoryService"),
	}
	authtest.CheckCovered(t, api.Policy(), expectations, services...)

	s := start(t)
	e := s.publish(t, s.spec())
	const memberID = "m-guard"
	occurrenceID := e.GetOccurrences()[0].GetId()
	tokens := s.issuer.Tokens(t, "demo", memberID)
	tokens["api-key"] = s.apiKey
	n := 0
	for procedure, want := range expectations {
		for _, caller := range authtest.Callers(true) {
			t.Run(procedure+"/"+caller, func(t *testing.T) {
				n++
				body := map[string]any{"community": "demo", "id": e.GetId(), "eventId": e.GetId(), "occurrenceId": occurrenceID, "memberId": memberID}
				switch procedure {
				case insightsv1connect.HistoryServiceReadHistoryProcedure:
					authtest.CheckGuard(t, procedure, caller, insightstest.ReadHistoryAs(s.url, tokens[caller]), want[caller])
					return
				case eventsv1connect.EventsServiceCreateEventProcedure:
					body = map[string]any{"community": "demo", "event": map[string]any{"title": fmt.Sprintf("Guard %d", n), "kind": "EVENT_KIND_ONLINE",
						"onlineUrl": "https://meet.example.org/g", "startTime": e.GetSpec().GetStartTime().AsTime().Format(time.RFC3339),
						"endTime": e.GetSpec().GetEndTime().AsTime().Format(time.RFC3339), "timeZone": "UTC"}}
				case eventsv1connect.EventsServiceUpdateEventProcedure:
					body["event"], body["updateMask"] = map[string]any{"title": fmt.Sprintf("Guard %d", n)}, "title"
				case eventsv1connect.EventsServicePublishEventProcedure, eventsv1connect.EventsServiceCancelEventProcedure,
					eventsv1connect.EventsServiceCompleteEventProcedure:
					body["id"] = "01a21500-0000-7000-8000-000000000000" // no such event: the guard decides before the handler
				case eventsv1connect.AttendanceServiceRSVPProcedure:
					body["answer"] = "RSVP_ANSWER_NOT_GOING"
				case eventsv1connect.AttendanceServiceGiveFeedbackProcedure:
					body["rating"] = 5
				case eventsv1connect.AttendanceServiceForgetMemberProcedure:
					body["memberId"] = "m-guard-forgotten" // not the member the other calls are about
				case eventsv1connect.EventsServiceSuggestEventsProcedure:
					body = map[string]any{"community": "demo", "interests": []string{"repair"}}
				}
				authtest.CheckGuard(t, procedure, caller, authtest.Call(t, s.url+procedure, tokens[caller], body), want[caller])
			})
		}
	}

	// The feeds are plain HTTP: the public one is open to anyone.
	res, err := http.Get(s.url + "/calendar/demo.ics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("anonymous public feed = %d, want 200", res.StatusCode)
	}
	// A member's own-record grant reaches only their own record.
	_, other, _ := s.as(t, "someone-else", auth.Member)
	if _, err := other.GetRSVP(context.Background(), connect.NewRequest(&eventsv1.GetRSVPRequest{OccurrenceId: occurrenceID, MemberId: memberID})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("reading another member's RSVP = %v, want PermissionDenied", err)
	}
}
