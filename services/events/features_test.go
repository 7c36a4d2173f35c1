package events_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/services/events"
	published "github.com/kinshiphq/kinship/services/events/events"
)

func TestSeatOfferExpiresAndPassesOn(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	spec := s.spec()
	spec.Capacity = 1
	e := s.publish(t, spec)
	occ := e.GetOccurrences()[0].GetId()
	_, ada, _ := s.as(t, "ada", auth.Member)
	_, bob, _ := s.as(t, "bob", auth.Member)
	_, cleo, _ := s.as(t, "cleo", auth.Member)
	for _, c := range []eventsv1connect.AttendanceServiceClient{ada, bob, cleo} {
		if _, err := rsvp(t, c, e, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ada.CancelRSVP(ctx, connect.NewRequest(&eventsv1.CancelRSVPRequest{EventId: e.GetId(), OccurrenceId: occ})); err != nil {
		t.Fatal(err)
	}
	offer, err := bob.GetRSVP(ctx, connect.NewRequest(&eventsv1.GetRSVPRequest{OccurrenceId: occ}))
	if err != nil || offer.Msg.GetRsvp().GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_OFFERED {
		t.Fatalf("bob after ada cancelled = %v, %v; want offered", offer, err)
	}
	if exp := offer.Msg.GetRsvp().GetOfferExpiresAt().AsTime(); exp.Sub(s.clock.Now()) < 23*time.Hour {
		t.Errorf("offer expires at %s, want about 24 h from now", exp)
	}
	worker := eventsv1connect.NewAttendanceServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	s.clock.Advance(25 * time.Hour)
	if _, err := bob.AcceptSeatOffer(ctx, connect.NewRequest(&eventsv1.AcceptSeatOfferRequest{OccurrenceId: occ})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("accepting an expired offer = %v, want FailedPrecondition", err)
	}
	swept, err := worker.ExpireSeatOffers(ctx, connect.NewRequest(&eventsv1.ExpireSeatOffersRequest{Community: "demo"}))
	if err != nil || swept.Msg.GetExpired() != 1 || swept.Msg.GetOffered() != 1 {
		t.Fatalf("expire = %v, %v; want 1 expired, 1 offered", swept, err)
	}
	again, err := worker.ExpireSeatOffers(ctx, connect.NewRequest(&eventsv1.ExpireSeatOffersRequest{Community: "demo"}))
	if err != nil || again.Msg.GetExpired() != 0 || again.Msg.GetOffered() != 0 {
		t.Errorf("a second sweep = %v, %v; want nothing", again, err)
	}
	taken, err := cleo.AcceptSeatOffer(ctx, connect.NewRequest(&eventsv1.AcceptSeatOfferRequest{OccurrenceId: occ}))
	if err != nil || taken.Msg.GetRsvp().GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_GOING || taken.Msg.GetRsvp().GetCheckInCode() == "" {
		t.Fatalf("cleo accepting = %v, %v", taken, err)
	}
	waitForTypes(t, s.brokers, published.TypeEventScheduled,
		published.TypeRSVPReceived, published.TypeSeatTaken, // ada
		published.TypeRSVPReceived, published.TypeWaitlisted, // bob
		published.TypeRSVPReceived, published.TypeWaitlisted, // cleo
		published.TypeRSVPCancelled, published.TypeSeatOffered, // ada leaves, bob offered
		published.TypeSeatOfferExpired, published.TypeSeatOffered, // bob lapses, cleo offered
		published.TypeSeatTaken) // cleo takes it
}

func TestThisAndFollowingSplitsTheSeriesAndKeepsRSVPs(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	spec := s.spec()
	spec.Recurrence = &eventsv1.Recurrence{Rrule: "FREQ=WEEKLY;COUNT=4"}
	e := s.publish(t, spec)
	_, ada, _ := s.as(t, "ada", auth.Member)
	series, err := ada.RSVP(ctx, connect.NewRequest(&eventsv1.RSVPRequest{EventId: e.GetId(), Series: true, Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING}))
	if err != nil || len(series.Msg.GetRsvps()) != 4 {
		t.Fatalf("series RSVP = %v, %v", series, err)
	}
	// From the third sitting on: an hour later and in another hall.
	third := e.GetOccurrences()[2]
	later := third.GetStartTime().AsTime().Add(time.Hour)
	res, err := s.events.UpdateEvent(ctx, connect.NewRequest(&eventsv1.UpdateEventRequest{Id: e.GetId(), Scope: eventsv1.UpdateScope_UPDATE_SCOPE_THIS_AND_FOLLOWING,
		OccurrenceId: third.GetId(), Event: &eventsv1.EventSpec{StartTime: timestamppb.New(later), EndTime: timestamppb.New(later.Add(2 * time.Hour)),
			Venue: &eventsv1.Venue{Name: "New hall", Street: "Side St 2", City: "Berlin", CountryCode: "DE"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"start_time", "end_time", "venue"}}}))
	if err != nil {
		t.Fatal(err)
	}
	before, after := res.Msg.GetEvent(), res.Msg.GetNewEvent()
	if len(before.GetOccurrences()) != 2 || len(after.GetOccurrences()) != 2 || after.GetSplitFromId() != e.GetId() {
		t.Fatalf("split into %d + %d occurrences (from %q)", len(before.GetOccurrences()), len(after.GetOccurrences()), after.GetSplitFromId())
	}
	if after.GetOccurrences()[0].GetId() != third.GetId() || !after.GetOccurrences()[0].GetStartTime().AsTime().Equal(later) {
		t.Errorf("the third sitting = %v, want it kept and an hour later", after.GetOccurrences()[0])
	}
	if after.GetSpec().GetVenue().GetName() != "New hall" || before.GetSpec().GetVenue().GetName() != "Hall" || before.GetSequence() != 1 {
		t.Errorf("venues %q / %q, sequence %d", before.GetSpec().GetVenue().GetName(), after.GetSpec().GetVenue().GetName(), before.GetSequence())
	}
	for _, o := range after.GetOccurrences() {
		r, err := ada.GetRSVP(ctx, connect.NewRequest(&eventsv1.GetRSVPRequest{OccurrenceId: o.GetId()}))
		if err != nil || r.Msg.GetRsvp().GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_GOING || r.Msg.GetRsvp().GetEventId() != after.GetId() {
			t.Errorf("ada at the moved sitting = %v, %v; want still going, under the new event", r, err)
		}
	}
	// The earlier part ends before the split; the series RSVP follows.
	ends := getICS(t, s.url+"/calendar/demo/events/"+before.GetId()+".ics", http.StatusOK)
	if rule := prop(ends.Events()[0], "RRULE"); rule == "" || !slices.Contains([]string{"FREQ=WEEKLY;UNTIL=" + third.GetRecurrenceId().AsTime().Add(-time.Second).UTC().Format("20060102T150405Z")}, rule) {
		t.Errorf("earlier part's RRULE = %q, want it to end before the split", rule)
	}
	if _, err := ada.CancelRSVP(ctx, connect.NewRequest(&eventsv1.CancelRSVPRequest{EventId: after.GetId(), Series: true})); err != nil {
		t.Errorf("cancelling the carried-over series RSVP: %v", err)
	}
}

func TestSweepMarksNoShowsAndCompletesEvents(t *testing.T) {
	s := startWith(t, func(c *events.Config, _ *events.Deps) { c.SweepEvery, c.NoShowAfter = 20*time.Millisecond, time.Hour })
	ctx := context.Background()
	e := s.publish(t, s.spec())
	occ := e.GetOccurrences()[0].GetId()
	_, ada, _ := s.as(t, "ada", auth.Member)
	_, bob, _ := s.as(t, "bob", auth.Member)
	seat, err := rsvp(t, ada, e, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rsvp(t, bob, e, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.events.CompleteEvent(ctx, connect.NewRequest(&eventsv1.CompleteEventRequest{Id: e.GetId()})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("completing an upcoming event = %v, want FailedPrecondition", err)
	}
	s.clock.Advance(7*24*time.Hour - 30*time.Minute)
	door := eventsv1connect.NewAttendanceServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Staff)))
	in, err := door.CheckIn(ctx, connect.NewRequest(&eventsv1.CheckInRequest{Code: seat.GetCheckInCode()}))
	if err != nil || in.Msg.GetRsvp().GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_CHECKED_IN || in.Msg.GetRsvp().GetMemberId() != "ada" {
		t.Fatalf("door check-in = %v, %v", in, err)
	}
	if _, err := door.CheckIn(ctx, connect.NewRequest(&eventsv1.CheckInRequest{Code: "ZZZZZZZZ"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("unknown code = %v, want NotFound", err)
	}
	s.clock.Advance(4 * time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	var got *eventsv1.Event
	for time.Now().Before(deadline) {
		res, err := s.events.GetEvent(ctx, connect.NewRequest(&eventsv1.GetEventRequest{Id: e.GetId()}))
		if err != nil {
			t.Fatal(err)
		}
		if got = res.Msg.GetEvent(); got.GetStatus() == eventsv1.EventStatus_EVENT_STATUS_COMPLETED {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got.GetStatus() != eventsv1.EventStatus_EVENT_STATUS_COMPLETED {
		t.Fatalf("event after it ended = %s, want completed by the sweep", got.GetStatus())
	}
	for time.Now().Before(deadline) {
		if r, err := bob.GetRSVP(ctx, connect.NewRequest(&eventsv1.GetRSVPRequest{OccurrenceId: occ})); err == nil && r.Msg.GetRsvp().GetStatus() == eventsv1.RSVPStatus_RSVP_STATUS_NO_SHOW {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r, _ := bob.GetRSVP(ctx, connect.NewRequest(&eventsv1.GetRSVPRequest{OccurrenceId: occ})); r.Msg.GetRsvp().GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_NO_SHOW {
		t.Errorf("bob = %s, want no_show", r.Msg.GetRsvp().GetStatus())
	}
	// The sweep's changes are audited, with the sweep as the actor.
	if n := s.count(t, `SELECT count(*) FROM audit_log WHERE actor_kind = 'workload' AND actor_id = 'events/sweep'
		AND action IN ('no_shows.marked', 'event.completed')`); n != 2 {
		t.Errorf("sweep audit entries = %d, want the no-shows and the completion", n)
	}
	if _, err := bob.GiveFeedback(ctx, connect.NewRequest(&eventsv1.GiveFeedbackRequest{OccurrenceId: occ, Rating: 1})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("feedback from a no-show = %v, want FailedPrecondition", err)
	}
	_, adaAtt, _ := s.as(t, "ada", auth.Member)
	if _, err := adaAtt.GiveFeedback(ctx, connect.NewRequest(&eventsv1.GiveFeedbackRequest{OccurrenceId: occ, Rating: 6})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("a 6-star rating = %v, want InvalidArgument", err)
	}
	if _, err := adaAtt.GiveFeedback(ctx, connect.NewRequest(&eventsv1.GiveFeedbackRequest{OccurrenceId: occ, Rating: 4, Comment: "Nice"})); err != nil {
		t.Fatal(err)
	}
	sum, err := s.attendance.GetFeedbackSummary(ctx, connect.NewRequest(&eventsv1.GetFeedbackSummaryRequest{EventId: e.GetId()}))
	if err != nil || sum.Msg.GetSummary().GetCount() != 1 || sum.Msg.GetSummary().GetAverage() != 4 || sum.Msg.GetSummary().GetDistribution()[3] != 1 {
		t.Errorf("summary = %v, %v", sum, err)
	}
	list, err := s.attendance.ListFeedback(ctx, connect.NewRequest(&eventsv1.ListFeedbackRequest{EventId: e.GetId()}))
	if err != nil || len(list.Msg.GetFeedback()) != 1 || list.Msg.GetFeedback()[0].GetComment() != "Nice" {
		t.Errorf("feedback list = %v, %v", list, err)
	}
	evs := waitForTypes(t, s.brokers, published.TypeEventScheduled, published.TypeRSVPReceived, published.TypeSeatTaken,
		published.TypeRSVPReceived, published.TypeSeatTaken, published.TypeCheckedIn, published.TypeNoShow, published.TypeEventUpdated,
		published.TypeEventCompleted, published.TypeFeedbackGiven)
	// The completion tells the members service whom to credit with hosting,
	// and how it went.
	for _, ev := range evs {
		if ev.Type != published.TypeEventCompleted {
			continue
		}
		done, err := published.DecodeEventCompleted(ev)
		if err != nil || done.GetEventId() != e.GetId() || done.GetAttended() != 1 || done.GetNoShows() != 1 || done.GetSeatsTaken() != 2 ||
			done.GetOccurrences() != 1 || !slices.Equal(done.GetHostIds(), e.GetSpec().GetHostIds()) || done.GetCompletedAt() == nil {
			t.Errorf("EventCompleted = %v, %v; want 1 attended and 1 no-show of 2 seats, with the hosts", done, err)
		}
	}
}

func TestSuggestEventsForTheOnboardingJourney(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	near := s.publish(t, s.spec())
	far := s.spec()
	far.Title, far.Tags, far.Venue = "Lyon repair", []string{"repair"}, &eventsv1.Venue{Street: "Rue 1", City: "Lyon", CountryCode: "FR"}
	s.publish(t, far)
	online := s.spec()
	online.Title, online.Kind, online.Venue, online.Tags = "Online climate talk", eventsv1.EventKind_EVENT_KIND_ONLINE, nil, []string{"climate"}
	s.publish(t, online)
	hidden := s.spec()
	hidden.Title, hidden.Visibility = "Members only", eventsv1.Visibility_VISIBILITY_MEMBERS
	s.publish(t, hidden)

	worker := eventsv1connect.NewEventsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	res, err := worker.SuggestEvents(ctx, connect.NewRequest(&eventsv1.SuggestEventsRequest{Community: "demo", Interests: []string{"repair"},
		Location: &eventsv1.Location{City: "Berlin", CountryCode: "DE"}, TimeZone: "Europe/Berlin", Limit: 2}))
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, sg := range res.Msg.GetSuggestions() {
		titles = append(titles, sg.GetEvent().GetSpec().GetTitle())
		if sg.GetEvent().GetSpec().GetOnlineUrl() != "" || len(sg.GetEvent().GetOccurrences()) != 1 {
			t.Errorf("suggestion %v shows an online URL or not one occurrence", sg.GetEvent())
		}
	}
	if len(titles) != 2 || titles[0] != near.GetSpec().GetTitle() || slices.Contains(titles, "Members only") {
		t.Errorf("suggestions = %v, want the Berlin repair café first and no members-only event", titles)
	}
	_, err = worker.SuggestEvents(ctx, connect.NewRequest(&eventsv1.SuggestEventsRequest{Community: "demo", TimeZone: "Mars/Base", Limit: 500}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("bad suggestion query = %v, want InvalidArgument", err)
	}
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestUpdatesKeepRSVPsBumpSequenceAndLogNoPersonalData(t *testing.T) {
	logs := &lockedBuffer{}
	s := startWith(t, func(_ *events.Config, d *events.Deps) {
		d.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := context.Background()
	spec := s.spec()
	spec.Capacity = 1
	spec.Recurrence = &eventsv1.Recurrence{Rrule: "FREQ=WEEKLY;COUNT=3"}
	e := s.publish(t, spec)
	_, ada, adaCal := s.as(t, "ada", auth.Member)
	_, bob, _ := s.as(t, "bob", auth.Member)
	if _, err := rsvp(t, ada, e, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := rsvp(t, bob, e, 0); err != nil {
		t.Fatal(err)
	}
	// The whole series moves an hour later: same days, so RSVPs stay.
	later := e.GetSpec().GetStartTime().AsTime().Add(time.Hour)
	res, err := s.events.UpdateEvent(ctx, connect.NewRequest(&eventsv1.UpdateEventRequest{Id: e.GetId(),
		Event:      &eventsv1.EventSpec{StartTime: timestamppb.New(later), EndTime: timestamppb.New(later.Add(2 * time.Hour)), Capacity: 2},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"start_time", "end_time", "capacity"}}}))
	if err != nil {
		t.Fatal(err)
	}
	moved := res.Msg.GetEvent()
	if moved.GetSequence() != 1 || len(moved.GetOccurrences()) != 3 || moved.GetOccurrences()[0].GetId() != e.GetOccurrences()[0].GetId() ||
		!moved.GetOccurrences()[0].GetStartTime().AsTime().Equal(later) {
		t.Fatalf("after moving the series: sequence %d, occurrences %v", moved.GetSequence(), moved.GetOccurrences())
	}
	if r, err := ada.GetRSVP(ctx, connect.NewRequest(&eventsv1.GetRSVPRequest{OccurrenceId: e.GetOccurrences()[0].GetId()})); err != nil ||
		r.Msg.GetRsvp().GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_GOING {
		t.Errorf("ada after the move = %v, %v; want her seat kept", r, err)
	}
	if r, err := bob.GetRSVP(ctx, connect.NewRequest(&eventsv1.GetRSVPRequest{OccurrenceId: e.GetOccurrences()[0].GetId()})); err != nil ||
		r.Msg.GetRsvp().GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_OFFERED {
		t.Errorf("bob after capacity grew = %v, %v; want the new seat offered", r, err)
	}
	// Drafts are listed for the team only; pages hold what they say.
	if _, err := s.events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Event: s.spec()})); err != nil {
		t.Fatal(err)
	}
	adaEvents, _, _ := s.as(t, "ada", auth.Member)
	for name, c := range map[string]eventsv1connect.EventsServiceClient{"organiser": s.events, "member": adaEvents} {
		var ids []string
		token := ""
		for range 5 {
			page, err := c.ListEvents(ctx, connect.NewRequest(&eventsv1.ListEventsRequest{PageSize: 1, PageToken: token}))
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range page.Msg.GetEvents() {
				ids = append(ids, ev.GetId())
			}
			if token = page.Msg.GetNextPageToken(); token == "" {
				break
			}
		}
		want := map[string]int{"organiser": 2, "member": 1}[name]
		if len(ids) != want {
			t.Errorf("%s lists %d events, want %d", name, len(ids), want)
		}
	}
	if _, err := s.events.ListEvents(ctx, connect.NewRequest(&eventsv1.ListEventsRequest{PageToken: "forged"})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("a forged page token = %v, want InvalidArgument", err)
	}

	// Personal data — comments, feed addresses — never reaches the logs.
	s.clock.Advance(7*24*time.Hour + time.Hour)
	door := eventsv1connect.NewAttendanceServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Staff)))
	if _, err := door.CheckIn(ctx, connect.NewRequest(&eventsv1.CheckInRequest{OccurrenceId: e.GetOccurrences()[0].GetId(), MemberId: "ada"})); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(3 * time.Hour)
	const comment = "Ada's private remark about the host"
	if _, err := ada.GiveFeedback(ctx, connect.NewRequest(&eventsv1.GiveFeedbackRequest{OccurrenceId: e.GetOccurrences()[0].GetId(), Rating: 3, Comment: comment})); err != nil {
		t.Fatal(err)
	}
	tok, err := adaCal.GetFeedToken(ctx, connect.NewRequest(&eventsv1.GetFeedTokenRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	getICS(t, s.url+tok.Msg.GetPath(), http.StatusOK)
	out := logs.String()
	if !strings.Contains(out, "feedback given") {
		t.Fatalf("the log holds no feedback record; is it captured?\n%s", out)
	}
	for _, secret := range []string{comment, tok.Msg.GetToken()} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}
