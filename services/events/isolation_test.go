package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
)

// post sends body as Connect JSON to procedure with token and returns the
// Connect code ("ok" on success) and the raw response.
func post(t *testing.T, url, procedure, token string, body map[string]any) (string, string) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url+procedure, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK {
		return "ok", string(out)
	}
	var e struct{ Code string }
	_ = json.Unmarshal(out, &e)
	return e.Code, string(out)
}

// otherCommunity is what an organiser of "other" and two of its members
// hold: a published recurring event with a seat and a waitlist place, a
// draft, a check-in code and a private feed.
type otherCommunity struct {
	event, draft  *eventsv1.Event
	occurrence    string
	code, token   string
	secrets       []string
	organiser     eventsv1connect.EventsServiceClient
	attendance    eventsv1connect.AttendanceServiceClient
	beaAttendance eventsv1connect.AttendanceServiceClient
}

func setUpOther(t *testing.T, s *service) otherCommunity {
	t.Helper()
	ctx := context.Background()
	tok := authtest.Bearer(s.issuer.For(t, "other", auth.Organiser))
	o := otherCommunity{organiser: eventsv1connect.NewEventsServiceClient(http.DefaultClient, s.url, tok),
		attendance: eventsv1connect.NewAttendanceServiceClient(http.DefaultClient, s.url, tok)}
	spec := s.spec()
	spec.Title, spec.OnlineUrl, spec.Capacity = "Other's secret gathering", "https://meet.example.org/other-secret", 1
	spec.Recurrence = &eventsv1.Recurrence{Rrule: "FREQ=WEEKLY;COUNT=2"}
	created, err := o.organiser.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: "other", Event: spec}))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := o.organiser.PublishEvent(ctx, connect.NewRequest(&eventsv1.PublishEventRequest{Community: "other", Id: created.Msg.GetEvent().GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	o.event = pub.Msg.GetEvent()
	o.occurrence = o.event.GetOccurrences()[0].GetId()
	draft, err := o.organiser.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: "other", Event: spec}))
	if err != nil {
		t.Fatal(err)
	}
	o.draft = draft.Msg.GetEvent()
	_, bea, beaCal := s.in(t, "other", "bea-other", auth.Member)
	_, bo, _ := s.in(t, "other", "bo-other", auth.Member)
	o.beaAttendance = bea
	seat, err := rsvp(t, bea, o.event, 0)
	if err != nil {
		t.Fatal(err)
	}
	o.code = seat.GetCheckInCode()
	if _, err := rsvp(t, bo, o.event, 0); err != nil {
		t.Fatal(err)
	}
	feed, err := beaCal.GetFeedToken(ctx, connect.NewRequest(&eventsv1.GetFeedTokenRequest{Community: "other"}))
	if err != nil {
		t.Fatal(err)
	}
	o.token = feed.Msg.GetToken()
	o.secrets = []string{spec.GetTitle(), spec.GetOnlineUrl(), "bea-other", "bo-other", o.code, o.token}
	return o
}

// TestAnotherCommunitysIdsAreNotFound is the attacker's side of finding 1
// for the events service: an organiser (and a member) of demo calls every
// RPC that takes an id, over HTTP, with ids that exist in "other". Each
// answers NotFound or PermissionDenied, says nothing of the other
// community, and changes nothing there; other's calendars are not served
// under demo's paths.
func TestAnotherCommunitysIdsAreNotFound(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	b := setUpOther(t, s)
	// demo's own recurring event, to pair with other's occurrence ids.
	spec := s.spec()
	spec.Recurrence = &eventsv1.Recurrence{Rrule: "FREQ=WEEKLY;COUNT=2"}
	a := s.publish(t, spec)

	organiser := s.issuer.For(t, "demo", auth.Organiser)
	member := s.issuer.Token(t, localissuer.Claims{Subject: "u-ada", Community: "demo", Roles: []string{string(auth.Member)}, MemberID: "ada"})
	title := map[string]any{"title": "Taken over"}
	calls := []struct {
		name, procedure, token string
		body                   map[string]any
	}{
		{"update another's event", eventsv1connect.EventsServiceUpdateEventProcedure, organiser,
			map[string]any{"id": b.event.GetId(), "event": title, "updateMask": "title"}},
		{"update another's occurrence through one's own event", eventsv1connect.EventsServiceUpdateEventProcedure, organiser,
			map[string]any{"id": a.GetId(), "scope": "UPDATE_SCOPE_OCCURRENCE", "occurrenceId": b.occurrence, "event": title, "updateMask": "title"}},
		{"split another's series through one's own event", eventsv1connect.EventsServiceUpdateEventProcedure, organiser,
			map[string]any{"id": a.GetId(), "scope": "UPDATE_SCOPE_THIS_AND_FOLLOWING", "occurrenceId": b.event.GetOccurrences()[1].GetId(), "event": title, "updateMask": "title"}},
		{"publish another's draft", eventsv1connect.EventsServicePublishEventProcedure, organiser, map[string]any{"id": b.draft.GetId()}},
		{"cancel another's event", eventsv1connect.EventsServiceCancelEventProcedure, organiser, map[string]any{"id": b.event.GetId()}},
		{"cancel another's occurrence through one's own event", eventsv1connect.EventsServiceCancelEventProcedure, organiser,
			map[string]any{"id": a.GetId(), "occurrenceId": b.occurrence}},
		{"complete another's event", eventsv1connect.EventsServiceCompleteEventProcedure, organiser, map[string]any{"id": b.event.GetId()}},
		{"read another's event", eventsv1connect.EventsServiceGetEventProcedure, organiser, map[string]any{"id": b.event.GetId()}},
		{"read another's draft", eventsv1connect.EventsServiceGetEventProcedure, organiser, map[string]any{"id": b.draft.GetId()}},
		{"RSVP to another's event", eventsv1connect.AttendanceServiceRSVPProcedure, member,
			map[string]any{"eventId": b.event.GetId(), "occurrenceId": b.occurrence, "answer": "RSVP_ANSWER_GOING"}},
		{"RSVP to another's occurrence through one's own event", eventsv1connect.AttendanceServiceRSVPProcedure, member,
			map[string]any{"eventId": a.GetId(), "occurrenceId": b.occurrence, "answer": "RSVP_ANSWER_GOING"}},
		{"RSVP to another's series", eventsv1connect.AttendanceServiceRSVPProcedure, member,
			map[string]any{"eventId": b.event.GetId(), "series": true, "answer": "RSVP_ANSWER_GOING"}},
		{"cancel another's RSVP", eventsv1connect.AttendanceServiceCancelRSVPProcedure, organiser,
			map[string]any{"eventId": b.event.GetId(), "occurrenceId": b.occurrence, "memberId": "bea-other"}},
		{"cancel another's RSVP through one's own event", eventsv1connect.AttendanceServiceCancelRSVPProcedure, organiser,
			map[string]any{"eventId": a.GetId(), "occurrenceId": b.occurrence, "memberId": "bea-other"}},
		{"cancel another's series RSVP", eventsv1connect.AttendanceServiceCancelRSVPProcedure, organiser,
			map[string]any{"eventId": b.event.GetId(), "series": true, "memberId": "bea-other"}},
		{"accept another's seat offer", eventsv1connect.AttendanceServiceAcceptSeatOfferProcedure, organiser,
			map[string]any{"occurrenceId": b.occurrence, "memberId": "bo-other"}},
		{"read another's RSVP", eventsv1connect.AttendanceServiceGetRSVPProcedure, organiser,
			map[string]any{"occurrenceId": b.occurrence, "memberId": "bea-other"}},
		{"list another's attendees", eventsv1connect.AttendanceServiceListAttendeesProcedure, organiser, map[string]any{"occurrenceId": b.occurrence}},
		{"check in with another's code", eventsv1connect.AttendanceServiceCheckInProcedure, organiser, map[string]any{"code": b.code}},
		{"check in another's seat", eventsv1connect.AttendanceServiceCheckInProcedure, organiser,
			map[string]any{"occurrenceId": b.occurrence, "memberId": "bea-other"}},
		{"mark another's no-shows", eventsv1connect.AttendanceServiceMarkNoShowsProcedure, organiser, map[string]any{"occurrenceId": b.occurrence}},
		{"rate another's occurrence", eventsv1connect.AttendanceServiceGiveFeedbackProcedure, member,
			map[string]any{"occurrenceId": b.occurrence, "rating": 1}},
		{"summarise another's feedback", eventsv1connect.AttendanceServiceGetFeedbackSummaryProcedure, organiser, map[string]any{"eventId": b.event.GetId()}},
		{"summarise another's occurrence through one's own event", eventsv1connect.AttendanceServiceGetFeedbackSummaryProcedure, organiser,
			map[string]any{"eventId": a.GetId(), "occurrenceId": b.occurrence}},
		{"list another's feedback", eventsv1connect.AttendanceServiceListFeedbackProcedure, organiser, map[string]any{"eventId": b.event.GetId()}},
		{"forget another's member", eventsv1connect.AttendanceServiceForgetMemberProcedure, organiser, map[string]any{"memberId": "bea-other"}},
		{"export another's event", eventsv1connect.CalendarServiceExportEventICSProcedure, organiser, map[string]any{"id": b.event.GetId()}},
		{"read another's feed token", eventsv1connect.CalendarServiceGetFeedTokenProcedure, member, map[string]any{"memberId": "bea-other"}},
		{"rotate another's feed token", eventsv1connect.CalendarServiceRotateFeedTokenProcedure, member, map[string]any{"memberId": "bea-other"}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			c.body["community"] = "demo"
			code, body := post(t, s.url, c.procedure, c.token, c.body)
			if code != connect.CodeNotFound.String() && code != connect.CodePermissionDenied.String() {
				t.Errorf("%s = %s %s, want not_found or permission_denied", c.procedure, code, body)
			}
			for _, secret := range b.secrets {
				if strings.Contains(body, secret) {
					t.Errorf("%s answered with other's data %q: %s", c.procedure, secret, body)
				}
			}
		})
	}

	t.Run("other's data is unchanged", func(t *testing.T) {
		got, err := b.organiser.GetEvent(ctx, connect.NewRequest(&eventsv1.GetEventRequest{Community: "other", Id: b.event.GetId()}))
		if err != nil {
			t.Fatal(err)
		}
		e := got.Msg.GetEvent()
		if e.GetStatus() != eventsv1.EventStatus_EVENT_STATUS_PUBLISHED || e.GetSpec().GetTitle() != b.event.GetSpec().GetTitle() || e.GetSequence() != 0 {
			t.Errorf("other's event = %v", e)
		}
		for _, o := range e.GetOccurrences() {
			if o.GetStatus() != eventsv1.OccurrenceStatus_OCCURRENCE_STATUS_SCHEDULED || o.GetTitle() != "" {
				t.Errorf("other's occurrence = %v", o)
			}
		}
		draft, err := b.organiser.GetEvent(ctx, connect.NewRequest(&eventsv1.GetEventRequest{Community: "other", Id: b.draft.GetId()}))
		if err != nil || draft.Msg.GetEvent().GetStatus() != eventsv1.EventStatus_EVENT_STATUS_DRAFT {
			t.Errorf("other's draft = %v, %v", draft, err)
		}
		seat, err := b.beaAttendance.GetRSVP(ctx, connect.NewRequest(&eventsv1.GetRSVPRequest{Community: "other", OccurrenceId: b.occurrence}))
		if err != nil || seat.Msg.GetRsvp().GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_GOING || seat.Msg.GetRsvp().GetCheckInCode() != b.code {
			t.Errorf("bea's seat = %v, %v", seat, err)
		}
		list, err := b.attendance.ListAttendees(ctx, connect.NewRequest(&eventsv1.ListAttendeesRequest{Community: "other", OccurrenceId: b.occurrence}))
		if err != nil || len(list.Msg.GetRsvps()) != 2 {
			t.Errorf("other's attendees = %v, %v; want bea's seat and bo's waitlist place only", list, err)
		}
		getICS(t, s.url+"/calendar/member/"+b.token+".ics", http.StatusOK)
	})

	t.Run("calendars", func(t *testing.T) {
		getICS(t, s.url+"/calendar/demo/events/"+b.event.GetId()+".ics", http.StatusNotFound)
		getICS(t, s.url+"/calendar/demo/events/"+b.draft.GetId()+".ics", http.StatusNotFound)
		for _, e := range getICS(t, s.url+"/calendar/demo.ics", http.StatusOK).Events() {
			if strings.Contains(prop(e, "SUMMARY"), b.event.GetSpec().GetTitle()) {
				t.Error("demo's public feed lists other's event")
			}
		}
		if len(getICS(t, s.url+"/calendar/other/events/"+b.event.GetId()+".ics", http.StatusOK).Events()) == 0 {
			t.Error("other's own event download is empty")
		}
		listed, err := s.events.ListEvents(ctx, connect.NewRequest(&eventsv1.ListEventsRequest{Community: "demo"}))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range listed.Msg.GetEvents() {
			if e.GetCommunity() != "demo" {
				t.Errorf("demo's list holds %s of %s", e.GetId(), e.GetCommunity())
			}
		}
	})
}
