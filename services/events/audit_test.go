package events_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	"github.com/kinshiphq/kinship/internal/audit/audittest"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/services/events/api"
	"github.com/kinshiphq/kinship/services/events/domain"
)

func TestTheCatalogueCoversEveryChange(t *testing.T) {
	var services []protoreflect.ServiceDescriptor
	for _, name := range []protoreflect.Name{"EventsService", "AttendanceService", "CalendarService"} {
		services = append(services, eventsv1.File_kinship_events_v1_events_service_proto.Services().ByName(name))
	}
	audittest.CheckCovered(t, api.Catalogue(), services...)
}

// TestEveryChangeIsAudited performs each procedure that changes data, as
// the caller the policy allows, and reads the audit log back through the
// service's AuditService: each call recorded what the catalogue says,
// naming ids only.
func TestEveryChangeIsAudited(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	log := auditv1connect.NewAuditServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
	worker := eventsv1connect.NewAttendanceServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	_, ada, adaCal := s.as(t, "ada", auth.Member)
	_, bob, _ := s.as(t, "bob", auth.Member)
	_, cleo, _ := s.as(t, "cleo", auth.Member)
	_, dan, _ := s.as(t, "dan", auth.Member)
	catalogue := api.Catalogue()

	spec := s.spec()
	spec.Capacity, spec.Recurrence = 1, &eventsv1.Recurrence{Rrule: "FREQ=WEEKLY;COUNT=3"}
	pii := []string{spec.GetTitle(), spec.GetDescription(), spec.GetOnlineUrl(), "Lovely evening", "Renamed café"}
	var series, single, doomed *eventsv1.Event
	var bobSeat *eventsv1.RSVP
	occ := func(i int) string { return series.GetOccurrences()[i].GetId() }
	steps := []struct {
		procedure string
		want      []string
		call      func() error
	}{
		{eventsv1connect.EventsServiceCreateEventProcedure, []string{domain.ActionEventCreated}, func() error {
			res, err := s.events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Event: spec}))
			series = res.Msg.GetEvent()
			return err
		}},
		{eventsv1connect.EventsServiceUpdateEventProcedure, []string{domain.ActionEventUpdated}, func() error {
			_, err := s.events.UpdateEvent(ctx, connect.NewRequest(&eventsv1.UpdateEventRequest{Id: series.GetId(),
				Event: &eventsv1.EventSpec{Title: "Renamed café"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}))
			return err
		}},
		{eventsv1connect.EventsServicePublishEventProcedure, []string{domain.ActionEventPublished}, func() error {
			res, err := s.events.PublishEvent(ctx, connect.NewRequest(&eventsv1.PublishEventRequest{Id: series.GetId()}))
			series = res.Msg.GetEvent()
			single, doomed = s.publish(t, s.spec()), s.publish(t, s.spec())
			return err
		}},
		{eventsv1connect.AttendanceServiceRSVPProcedure, []string{domain.ActionRSVPAnswered}, func() error {
			_, err := rsvp(t, ada, series, 0)
			return err
		}},
		{eventsv1connect.AttendanceServiceCancelRSVPProcedure, []string{domain.ActionRSVPCancelled}, func() error {
			if _, err := rsvp(t, bob, series, 0); err != nil { // waitlisted
				return err
			}
			_, err := ada.CancelRSVP(ctx, connect.NewRequest(&eventsv1.CancelRSVPRequest{EventId: series.GetId(), OccurrenceId: occ(0)}))
			return err
		}},
		{eventsv1connect.AttendanceServiceAcceptSeatOfferProcedure, []string{domain.ActionSeatOfferAccepted}, func() error {
			res, err := bob.AcceptSeatOffer(ctx, connect.NewRequest(&eventsv1.AcceptSeatOfferRequest{OccurrenceId: occ(0)}))
			bobSeat = res.Msg.GetRsvp()
			return err
		}},
		{eventsv1connect.AttendanceServiceExpireSeatOffersProcedure, []string{domain.ActionSeatOffersExpired}, func() error {
			if _, err := rsvp(t, cleo, series, 1); err != nil {
				return err
			}
			if _, err := rsvp(t, dan, series, 1); err != nil {
				return err
			}
			if _, err := cleo.CancelRSVP(ctx, connect.NewRequest(&eventsv1.CancelRSVPRequest{EventId: series.GetId(), OccurrenceId: occ(1)})); err != nil {
				return err
			}
			s.clock.Advance(25 * time.Hour) // dan's offer lapses
			_, err := s.attendance.ExpireSeatOffers(ctx, connect.NewRequest(&eventsv1.ExpireSeatOffersRequest{}))
			return err
		}},
		{eventsv1connect.EventsServiceUpdateEventProcedure, []string{domain.ActionEventUpdated, domain.ActionEventCreated}, func() error {
			_, err := s.events.UpdateEvent(ctx, connect.NewRequest(&eventsv1.UpdateEventRequest{Id: series.GetId(), OccurrenceId: occ(2),
				Scope: eventsv1.UpdateScope_UPDATE_SCOPE_THIS_AND_FOLLOWING, Event: &eventsv1.EventSpec{Capacity: 5},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"capacity"}}}))
			return err
		}},
		{eventsv1connect.EventsServiceCancelEventProcedure, []string{domain.ActionEventCancelled}, func() error {
			_, err := s.events.CancelEvent(ctx, connect.NewRequest(&eventsv1.CancelEventRequest{Id: doomed.GetId(), Reason: "Venue flooded"}))
			return err
		}},
		{eventsv1connect.AttendanceServiceCheckInProcedure, []string{domain.ActionCheckedIn}, func() error {
			s.clock.Advance(series.GetOccurrences()[0].GetStartTime().AsTime().Sub(s.clock.Now()) - 10*time.Minute)
			_, err := bob.CheckIn(ctx, connect.NewRequest(&eventsv1.CheckInRequest{Code: bobSeat.GetQrPayload()}))
			return err
		}},
		{eventsv1connect.AttendanceServiceMarkNoShowsProcedure, []string{domain.ActionNoShowsMarked}, func() error {
			s.clock.Advance(3 * time.Hour)
			_, err := s.attendance.MarkNoShows(ctx, connect.NewRequest(&eventsv1.MarkNoShowsRequest{OccurrenceId: occ(0)}))
			return err
		}},
		{eventsv1connect.AttendanceServiceGiveFeedbackProcedure, []string{domain.ActionFeedbackGiven}, func() error {
			_, err := bob.GiveFeedback(ctx, connect.NewRequest(&eventsv1.GiveFeedbackRequest{OccurrenceId: occ(0), Rating: 5, Comment: "Lovely evening"}))
			return err
		}},
		{eventsv1connect.EventsServiceCompleteEventProcedure, []string{domain.ActionEventCompleted}, func() error {
			_, err := s.events.CompleteEvent(ctx, connect.NewRequest(&eventsv1.CompleteEventRequest{Id: single.GetId()}))
			return err
		}},
		{eventsv1connect.AttendanceServiceForgetMemberProcedure, []string{domain.ActionMemberForgotten}, func() error {
			_, err := worker.ForgetMember(ctx, connect.NewRequest(&eventsv1.ForgetMemberRequest{Community: "demo", MemberId: "cleo"}))
			return err
		}},
		{eventsv1connect.CalendarServiceGetFeedTokenProcedure, []string{domain.ActionFeedTokenCreated}, func() error {
			_, err := adaCal.GetFeedToken(ctx, connect.NewRequest(&eventsv1.GetFeedTokenRequest{}))
			return err
		}},
		{eventsv1connect.CalendarServiceRotateFeedTokenProcedure, []string{domain.ActionFeedTokenRotated}, func() error {
			_, err := adaCal.RotateFeedToken(ctx, connect.NewRequest(&eventsv1.RotateFeedTokenRequest{}))
			return err
		}},
	}
	done := map[string]bool{}
	for _, step := range steps {
		t.Run(step.procedure, func(t *testing.T) {
			for _, a := range step.want {
				if !slices.Contains(catalogue[step.procedure], a) {
					t.Fatalf("the test expects %q, which the catalogue does not list for %s", a, step.procedure)
				}
			}
			mark := audittest.Mark(t, log, "demo")
			if err := step.call(); err != nil {
				t.Fatalf("%s: %v", step.procedure, err)
			}
			mark.Expect(t, step.procedure, step.want, pii...)
			done[step.procedure] = true
		})
	}
	for procedure := range catalogue {
		if !done[procedure] {
			t.Errorf("%s is in the catalogue but was not performed here", procedure)
		}
	}

	t.Run("nothing changed, nothing recorded", func(t *testing.T) {
		mark := audittest.Mark(t, log, "demo")
		if _, err := adaCal.GetFeedToken(ctx, connect.NewRequest(&eventsv1.GetFeedTokenRequest{})); err != nil {
			t.Fatal(err)
		}
		if _, err := s.events.CancelEvent(ctx, connect.NewRequest(&eventsv1.CancelEventRequest{Id: doomed.GetId()})); err != nil {
			t.Fatal(err)
		}
		if got := mark.Since(t); len(got) != 0 {
			t.Errorf("repeated calls recorded %v", actions(got))
		}
	})
	t.Run("entries name ids and actors, never a person", func(t *testing.T) {
		res, err := log.ListAuditEntries(ctx, connect.NewRequest(&auditv1.ListAuditEntriesRequest{Community: "demo", PageSize: 100}))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Msg.GetEntries() {
			if e.GetService() != "events" || e.GetActorKind() == "" || e.GetTargetId() == "" {
				t.Errorf("entry %v lacks its service, actor or target", e)
			}
		}
	})
}

func actions(es []*auditv1.AuditEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.GetAction())
	}
	return out
}
