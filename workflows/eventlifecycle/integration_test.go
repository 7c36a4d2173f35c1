package eventlifecycle_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/kafka"
	published "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/workflows/eventlifecycle"
	"github.com/kinshiphq/kinship/workflows/internal/replaytest"
	"github.com/kinshiphq/kinship/workflows/internal/stacktest"
)

var record = flag.Bool("record", false, "write the real server's history of an event's lifecycle to testdata/")

// Recorded histories: the workshop (offers, reminders, follow-up) and the
// cancelled picnic.
const (
	recordedHistory          = "testdata/event-lifecycle-offers-reminders-follow-up.json"
	recordedCancelledHistory = "testdata/event-lifecycle-cancelled.json"
)

// TestLifecycleOnTheRealStack runs two events through their lifecycles on
// the embedded Temporal server, fed by the events service's own events
// through a trigger as the worker runs it, against the real members,
// events and communications services, with every duration shrunk to
// seconds. The first event: a freed seat offered to Bob, who lets it
// lapse, then to Cy, who takes it; reminders to Dan and Cy; Cy attends and
// is asked for feedback, Dan is marked a no-show. The second is
// cancelled, and Ada, who held a seat, is told.
func TestLifecycleOnTheRealStack(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Members: true, Communications: true, Events: true, SeatOfferWindow: 4 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	const community = stacktest.Community
	organiser := s.As(t, auth.Organiser)

	mem := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.MembersURL, organiser)
	ids := map[string]string{}
	for _, name := range []string{"ada", "bob", "cy", "dan"} {
		res, err := mem.JoinCommunity(ctx, connect.NewRequest(&membersv1.JoinCommunityRequest{Community: community,
			Email: name + "@example.org", DisplayName: strings.ToUpper(name[:1]) + name[1:]}))
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = res.Msg.GetMember().GetId()
	}
	prefs := communicationsv1connect.NewAnnouncementsServiceClient(http.DefaultClient, s.CommunicationsURL, organiser)
	stacktest.Eventually(t, 20*time.Second, "communications knows every member", func() string {
		for name, id := range ids {
			if _, err := prefs.GetPreferences(ctx, connect.NewRequest(&communicationsv1.GetPreferencesRequest{Community: community, MemberId: id})); err != nil {
				return name + ": " + err.Error()
			}
		}
		return ""
	})

	settings := eventlifecycle.Settings{ReminderOffsets: []time.Duration{8 * time.Second, 4 * time.Second}, ReminderGrace: time.Second,
		FeedbackAfter: time.Second, NoShowsAfter: 2 * time.Second, OfferGrace: 500 * time.Millisecond}
	acts := &eventlifecycle.Activities{
		Events:         eventsv1connect.NewEventsServiceClient(s.HTTPClient(), s.EventsURL, s.Workload()...),
		Attendance:     eventsv1connect.NewAttendanceServiceClient(s.HTTPClient(), s.EventsURL, s.Workload()...),
		Communications: communicationsv1connect.NewCommunicationsServiceClient(s.HTTPClient(), s.CommunicationsURL, s.Workload()...),
		Templates:      communicationsv1connect.NewTemplatesServiceClient(s.HTTPClient(), s.CommunicationsURL, s.Workload()...),
	}
	s.Worker(t, eventlifecycle.TaskQueue, func(r worker.Registry) { eventlifecycle.Register(r, acts) })
	var redeliveries atomic.Int32
	s.Trigger(t, published.Topic(community), func(ctx context.Context, e kafka.Event) error {
		acted, err := eventlifecycle.Handle(ctx, s.Temporal, community, e, settings)
		if err == nil && e.Type == published.TypeEventScheduled {
			// Every EventScheduled is handled twice, as a redelivery
			// would be: the second must start nothing.
			again, err := eventlifecycle.Handle(ctx, s.Temporal, community, e, settings)
			if err != nil || again || !acted {
				return fmt.Errorf("EventScheduled handled %v then %v (%v), want a start then nothing", acted, again, err)
			}
			redeliveries.Add(1)
		}
		return err
	})

	events := eventsv1connect.NewEventsServiceClient(http.DefaultClient, s.EventsURL, organiser)
	attendance := eventsv1connect.NewAttendanceServiceClient(http.DefaultClient, s.EventsURL, organiser)
	publish := func(title string, startsIn time.Duration, capacity int32) (eventID, occurrenceID string, start time.Time) {
		t.Helper()
		start = time.Now().UTC().Add(startsIn).Truncate(time.Second)
		created, err := events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: community, Event: &eventsv1.EventSpec{
			Title: title, Kind: eventsv1.EventKind_EVENT_KIND_ONLINE, OnlineUrl: "https://meet.example.org/" + strings.ToLower(title[:4]),
			StartTime: timestamppb.New(start), EndTime: timestamppb.New(start.Add(3 * time.Second)), TimeZone: "Europe/Berlin",
			Capacity: capacity, Visibility: eventsv1.Visibility_VISIBILITY_PUBLIC}}))
		if err != nil {
			t.Fatal(err)
		}
		res, err := events.PublishEvent(ctx, connect.NewRequest(&eventsv1.PublishEventRequest{Community: community, Id: created.Msg.GetEvent().GetId()}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetEvent().GetId(), res.Msg.GetEvent().GetOccurrences()[0].GetId(), start
	}
	rsvp := func(eventID, occurrenceID, name string) eventsv1.RSVPStatus {
		t.Helper()
		res, err := attendance.RSVP(ctx, connect.NewRequest(&eventsv1.RSVPRequest{Community: community, EventId: eventID,
			OccurrenceId: occurrenceID, MemberId: ids[name], Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetRsvps()[0].GetStatus()
	}
	mails := func(name string) []string {
		var subjects []string
		for _, m := range s.Mail.Messages(name + "@example.org") {
			subjects = append(subjects, m.Subject)
		}
		return subjects
	}
	waitMail := func(name, subject string) {
		t.Helper()
		stacktest.Eventually(t, 20*time.Second, name+" gets "+subject, func() string {
			for _, got := range mails(name) {
				if strings.HasPrefix(got, subject) {
					return ""
				}
			}
			return fmt.Sprintf("%s has %q", name, mails(name))
		})
	}

	// The workshop: two seats, Ada and Dan take them, Bob and Cy wait.
	workshop, occurrence, start := publish("Workshop", 25*time.Second, 2)
	for name, want := range map[string]eventsv1.RSVPStatus{"ada": eventsv1.RSVPStatus_RSVP_STATUS_GOING, "dan": eventsv1.RSVPStatus_RSVP_STATUS_GOING} {
		if got := rsvp(workshop, occurrence, name); got != want {
			t.Fatalf("%s's RSVP = %v", name, got)
		}
	}
	for _, name := range []string{"bob", "cy"} {
		if got := rsvp(workshop, occurrence, name); got != eventsv1.RSVPStatus_RSVP_STATUS_WAITLISTED {
			t.Fatalf("%s's RSVP = %v, want waitlisted", name, got)
		}
	}
	// The picnic: Ada holds a seat; it will be cancelled.
	picnic, picnicOccurrence, _ := publish("Picnic", time.Hour, 10)
	rsvp(picnic, picnicOccurrence, "ada")

	// Ada withdraws from the workshop: Bob is offered her seat, lets the
	// offer lapse, and it passes to Cy, who takes it.
	if _, err := attendance.CancelRSVP(ctx, connect.NewRequest(&eventsv1.CancelRSVPRequest{Community: community, EventId: workshop,
		OccurrenceId: occurrence, MemberId: ids["ada"]})); err != nil {
		t.Fatal(err)
	}
	waitMail("bob", "A seat is free for you: Workshop")
	waitMail("cy", "A seat is free for you: Workshop")
	if _, err := attendance.AcceptSeatOffer(ctx, connect.NewRequest(&eventsv1.AcceptSeatOfferRequest{Community: community,
		OccurrenceId: occurrence, MemberId: ids["cy"]})); err != nil {
		t.Fatal(err)
	}

	// The picnic is cancelled: Ada is told.
	if _, err := events.CancelEvent(ctx, connect.NewRequest(&eventsv1.CancelEventRequest{Community: community, Id: picnic, Reason: "Rain"})); err != nil {
		t.Fatal(err)
	}
	waitMail("ada", "Cancelled: Picnic")
	if text := s.Mail.Messages("ada@example.org")[0].Text; !strings.Contains(text, "Rain") {
		t.Errorf("the cancellation does not give the organiser's reason: %q", text)
	}
	var picnicResult eventlifecycle.Result
	if err := s.Temporal.GetWorkflow(ctx, eventlifecycle.WorkflowID(community, picnic), "").Get(ctx, &picnicResult); err != nil {
		t.Fatal(err)
	}
	if picnicResult.Outcome != eventlifecycle.OutcomeCancelled || picnicResult.Totals.CancellationNotices != 1 {
		t.Errorf("picnic lifecycle = %+v", picnicResult)
	}

	// Reminders reach Dan and Cy; Cy checks in.
	waitMail("cy", "Reminder: Workshop starts in 4 seconds")
	if time.Now().After(start) {
		t.Fatalf("the last reminder came after the start")
	}
	if _, err := attendance.CheckIn(ctx, connect.NewRequest(&eventsv1.CheckInRequest{Community: community, OccurrenceId: occurrence,
		MemberId: ids["cy"]})); err != nil {
		t.Fatal(err)
	}
	var res eventlifecycle.Result
	if err := s.Temporal.GetWorkflow(ctx, eventlifecycle.WorkflowID(community, workshop), "").Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	want := eventlifecycle.Totals{RemindersSent: 4, FeedbackRequests: 1, SeatOffersSent: 2, OffersExpired: 1, NoShowsMarked: 1}
	if res.Outcome != eventlifecycle.OutcomeFinished || res.Totals != want {
		t.Errorf("workshop lifecycle = %+v, want finished with %+v", res, want)
	}
	for name, want := range map[string][]string{
		"ada": {"Cancelled: Picnic"},
		"bob": {"A seat is free for you: Workshop"},
		"cy": {"A seat is free for you: Workshop", "Reminder: Workshop starts in 8 seconds", "Reminder: Workshop starts in 4 seconds",
			"How was Workshop?"},
		"dan": {"Reminder: Workshop starts in 8 seconds", "Reminder: Workshop starts in 4 seconds"},
	} {
		stacktest.Eventually(t, 10*time.Second, name+"'s mail", func() string {
			got := mails(name)
			if len(got) != len(want) {
				return fmt.Sprintf("%q, want %q", got, want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], want[i]) {
					return fmt.Sprintf("%q, want %q", got, want)
				}
			}
			return ""
		})
	}
	dan, err := attendance.GetRSVP(ctx, connect.NewRequest(&eventsv1.GetRSVPRequest{Community: community, OccurrenceId: occurrence, MemberId: ids["dan"]}))
	if err != nil || dan.Msg.GetRsvp().GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_NO_SHOW {
		t.Errorf("Dan's RSVP = %v, %v; want a no-show", dan.Msg.GetRsvp().GetStatus(), err)
	}
	if n := redeliveries.Load(); n != 2 {
		t.Errorf("EventScheduled redeliveries checked = %d, want 2", n)
	}

	for file, eventID := range map[string]string{recordedHistory: workshop, recordedCancelledHistory: picnic} {
		replaytest.Keep(t, eventlifecycle.Workflow, workflow.RegisterOptions{Name: eventlifecycle.WorkflowName},
			replaytest.History(t, s.Temporal, eventlifecycle.WorkflowID(community, eventID), ""), file, *record)
	}
}
