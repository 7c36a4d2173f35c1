package digest_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
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
	"github.com/kinshiphq/kinship/workflows/digest"
	"github.com/kinshiphq/kinship/workflows/internal/replaytest"
	"github.com/kinshiphq/kinship/workflows/internal/stacktest"
)

var record = flag.Bool("record", false, "write the real server's history of a scheduled digest run to testdata/")

const recordedHistory = "testdata/digest-scheduled-run.json"

// TestDigestScheduleOnTheRealStack keeps a community's schedule in line
// with its settings, runs it once on the embedded Temporal server against
// the real members, events and communications services, and checks the
// digest reaches only the member who wants it, once per scheduled time.
func TestDigestScheduleOnTheRealStack(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Members: true, Communications: true, Events: true})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	organiser := s.As(t, auth.Organiser)

	// A public event in two days, and two members: Ada wants the digest,
	// Bob does not.
	ev := eventsv1connect.NewEventsServiceClient(http.DefaultClient, s.EventsURL, organiser)
	start := time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)
	created, err := ev.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: stacktest.Community, Event: &eventsv1.EventSpec{
		Title: "Repair café", Kind: eventsv1.EventKind_EVENT_KIND_ONLINE, OnlineUrl: "https://meet.example.org/repair",
		StartTime: timestamppb.New(start), EndTime: timestamppb.New(start.Add(2 * time.Hour)), TimeZone: "UTC",
		Visibility: eventsv1.Visibility_VISIBILITY_PUBLIC}}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.PublishEvent(ctx, connect.NewRequest(&eventsv1.PublishEventRequest{Community: stacktest.Community, Id: created.Msg.GetEvent().GetId()})); err != nil {
		t.Fatal(err)
	}
	mem := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.MembersURL, organiser)
	join := func(email, name string) string {
		res, err := mem.JoinCommunity(ctx, connect.NewRequest(&membersv1.JoinCommunityRequest{Community: stacktest.Community, Email: email,
			DisplayName: name, EmailConsent: true}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetMember().GetId()
	}
	ada, bob := join("ada@example.org", "Ada"), join("bob@example.org", "Bob")
	if _, err := mem.RecordConsent(ctx, connect.NewRequest(&membersv1.RecordConsentRequest{Community: stacktest.Community, MemberId: ada,
		Purpose: "email.digest", Granted: true, Source: "preferences", PolicyVersion: "2026-01"})); err != nil {
		t.Fatal(err)
	}
	prefs := communicationsv1connect.NewAnnouncementsServiceClient(http.DefaultClient, s.CommunicationsURL, organiser)
	stacktest.Eventually(t, 20*time.Second, "communications knows both members and Ada's consent", func() string {
		for id, want := range map[string]bool{ada: true, bob: false} {
			p, err := prefs.GetPreferences(ctx, connect.NewRequest(&communicationsv1.GetPreferencesRequest{Community: stacktest.Community, MemberId: id}))
			if err != nil {
				return err.Error()
			}
			if p.Msg.GetPreferences().GetDigest() != want {
				return fmt.Sprintf("member %s digest consent %v", id, p.Msg.GetPreferences().GetDigest())
			}
		}
		return ""
	})

	acts := &digest.Activities{
		Templates:     communicationsv1connect.NewTemplatesServiceClient(s.HTTPClient(), s.CommunicationsURL, s.Workload()...),
		Announcements: communicationsv1connect.NewAnnouncementsServiceClient(s.HTTPClient(), s.CommunicationsURL, s.Workload()...),
	}
	s.Worker(t, digest.TaskQueue, func(r worker.Registry) { digest.Register(r, acts) })

	// The schedule follows the settings, however often they are applied;
	// zero settings are the defaults.
	if err := digest.EnsureSchedules(ctx, s.Temporal, stacktest.Community, digest.Settings{}); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"", "", "fri 17:30 Europe/Berlin", "fri 17:30 Europe/Berlin"} {
		settings, err := digest.ParseSettings(spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := digest.EnsureSchedules(ctx, s.Temporal, stacktest.Community, settings); err != nil {
			t.Fatalf("EnsureSchedules(%q): %v", spec, err)
		}
	}
	handle := s.Temporal.ScheduleClient().GetHandle(ctx, digest.ScheduleID(stacktest.Community))
	desc, err := handle.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next := desc.Info.NextActionTimes; len(next) == 0 || next[0].In(mustZone(t, "Europe/Berlin")).Format("Mon 15:04") != "Fri 17:30" {
		t.Errorf("next digest at %v, want a Friday 17:30 in Berlin", next)
	}
	if n := countSchedules(ctx, t, s.Temporal); n != 1 {
		t.Errorf("schedules = %d, want 1", n)
	}

	// One run now, as the schedule would start it.
	if err := handle.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	var runID, workflowID string
	stacktest.Eventually(t, 20*time.Second, "the schedule started a run", func() string {
		d, err := handle.Describe(ctx)
		if err != nil {
			return err.Error()
		}
		if len(d.Info.RecentActions) == 0 {
			return "no action yet"
		}
		run := d.Info.RecentActions[0].StartWorkflowResult
		workflowID, runID = run.WorkflowID, run.FirstExecutionRunID
		return ""
	})
	if !strings.HasPrefix(workflowID, digest.WorkflowIDPrefix(stacktest.Community)+"-") {
		t.Errorf("run id %q does not follow the schedule's prefix", workflowID)
	}
	var first digest.Result
	if err := s.Temporal.GetWorkflow(ctx, workflowID, runID).Get(ctx, &first); err != nil {
		t.Fatal(err)
	}
	if first.Recipients != 1 || !strings.HasPrefix(first.IdempotencyKey, "digest/demo/") {
		t.Errorf("first run = %+v, want the digest queued for Ada alone", first)
	}
	stacktest.Eventually(t, 20*time.Second, "Ada's digest in the sink", func() string {
		msgs := s.Mail.Messages("ada@example.org")
		if len(msgs) != 1 {
			return fmt.Sprintf("%d messages to Ada", len(msgs))
		}
		if !strings.Contains(msgs[0].Subject, "This week in demo") || !strings.Contains(msgs[0].Text, "Repair café") {
			return fmt.Sprintf("digest %q: %q", msgs[0].Subject, msgs[0].Text)
		}
		return ""
	})

	// Another run for the same scheduled time sends nothing new.
	nominal, err := time.Parse(time.RFC3339, strings.TrimPrefix(first.IdempotencyKey, "digest/demo/"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "digest/demo-again", TaskQueue: digest.TaskQueue}, digest.WorkflowName,
		digest.Input{Community: stacktest.Community, NominalTime: nominal})
	if err != nil {
		t.Fatal(err)
	}
	var second digest.Result
	if err := again.Get(ctx, &second); err != nil {
		t.Fatal(err)
	}
	if second.AnnouncementID != first.AnnouncementID {
		t.Errorf("second run made announcement %s, want the first, %s", second.AnnouncementID, first.AnnouncementID)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(s.Mail.Messages("ada@example.org")); n != 1 {
		t.Errorf("digests to Ada = %d, want 1", n)
	}
	if n := len(s.Mail.Messages("bob@example.org")); n != 0 {
		t.Errorf("digests to Bob, who did not ask for them: %d", n)
	}

	replaytest.Keep(t, digest.Workflow, workflow.RegisterOptions{Name: digest.WorkflowName},
		replaytest.History(t, s.Temporal, workflowID, runID), recordedHistory, *record)

	// Off removes the schedule; removing it again is fine.
	for range 2 {
		if err := digest.EnsureSchedules(ctx, s.Temporal, stacktest.Community, digest.Settings{Off: true}); err != nil {
			t.Fatal(err)
		}
	}
	var missing *serviceerror.NotFound
	if _, err := handle.Describe(ctx); !errors.As(err, &missing) {
		t.Errorf("schedule after turning digests off: %v, want NotFound", err)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func countSchedules(ctx context.Context, t *testing.T, c client.Client) int {
	t.Helper()
	// Visibility of schedules lags their creation a little.
	n := 0
	stacktest.Eventually(t, 10*time.Second, "schedules listed", func() string {
		iter, err := c.ScheduleClient().List(ctx, client.ScheduleListOptions{})
		if err != nil {
			return err.Error()
		}
		n = 0
		for iter.HasNext() {
			if _, err := iter.Next(); err != nil {
				return err.Error()
			}
			n++
		}
		if n == 0 {
			return "none listed yet"
		}
		return ""
	})
	return n
}
