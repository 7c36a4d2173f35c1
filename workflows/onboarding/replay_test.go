package onboarding

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/encoding/protojson"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
)

var record = flag.Bool("record", false, "write the real server's histories of the journeys to testdata/")

// firstVersionHistory is a journey of the first version (before
// definitions): welcome, reminder, profile completed.
const firstVersionHistory = "testdata/onboarding-reminded-then-completed.json"

func discardLogger() tlog.Logger { return tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)) }

// realServer runs a worker with fake services on the real Temporal server.
func realServer(t *testing.T) (client.Client, *fakeComms, *fakeEngagement) {
	t.Helper()
	srv := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(client.Options{Logger: discardLogger()}))
	comms, eng := &fakeComms{}, &fakeEngagement{}
	acts := &Activities{
		Members: &fakeMembers{}, Communications: comms, Engagement: eng,
		Events:   &fakeEvents{events: []*eventsv1.Event{{Id: "e1", Spec: &eventsv1.EventSpec{Title: "Repair café"}}}},
		Segments: &fakeSegments{byFilter: func(*membersv1.SegmentFilter) []string { return []string{"amb1"} }},
		Buddies:  &fakeBook{capacity: 3},
	}
	srv.NewWorker(TaskQueue, func(r worker.Registry) { Register(r, acts) })
	return srv.GetDefaultClient(), comms, eng
}

func shortDefinition() *Definition {
	return &Definition{Steps: []Step{
		{Type: StepWelcome},
		{Type: StepCompleteProfile, Reminders: []Duration{Duration(300 * time.Millisecond)}, Wait: Duration(time.Minute)},
		{Type: StepSuggestEvent},
		{Type: StepAssignBuddy},
		{Type: StepFirstAttendance, Reminders: []Duration{Duration(time.Minute)}, Wait: Duration(2 * time.Minute)},
	}}
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("%s: not within the deadline", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func historyOf(t *testing.T, ctx context.Context, c client.Client, id, runID string) *historypb.History {
	t.Helper()
	history := &historypb.History{}
	iter := c.GetWorkflowHistory(ctx, id, runID, false, 0)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		history.Events = append(history.Events, e)
	}
	return history
}

// replayAndKeep replays a history the real server produced and, with
// -record, keeps it in testdata/.
func replayAndKeep(t *testing.T, history *historypb.History, file string) {
	t.Helper()
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(Workflow, workflowRegisterOptions())
	if err := replayer.ReplayWorkflowHistory(discardLogger(), history); err != nil {
		t.Fatalf("the workflow does not replay its own history: %v", err)
	}
	if !*record {
		return
	}
	raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(history)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", file), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events in testdata/%s", len(history.Events), file)
}

// TestJourneyOnARealServer runs a whole journey on the real Temporal
// server — reminder, profile, suggestion, buddy, check-in — and replays
// the history it produced.
func TestJourneyOnARealServer(t *testing.T) {
	c, comms, eng := realServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	id := WorkflowID("demo", "m1")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: TaskQueue}, WorkflowName,
		Input{Community: "demo", MemberID: "m1", Definition: shortDefinition()})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "profile reminder", func() bool { return slices.Contains(comms.keys(), id+"/profile-reminder-1") })
	if err := c.SignalWorkflow(ctx, id, "", SignalProfileCompleted, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "buddy introduction", func() bool { return slices.Contains(comms.keys(), id+"/buddy-ambassador") })
	if err := c.SignalWorkflow(ctx, id, "", SignalCheckedIn, CheckIn{EventID: "e1", OccurrenceID: "o1"}); err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := run.Get(ctx, &res); err != nil || res.Outcome != OutcomeOnboarded {
		t.Fatalf("journey = %+v, %v", res, err)
	}
	if len(eng.recorded) != 1 || eng.recorded[0].GetSourceEventId() != id+"/onboarded" {
		t.Errorf("onboarded activity recorded as %v", eng.recorded)
	}
	replayAndKeep(t, historyOf(t, ctx, c, id, run.GetRunID()), "onboarding-v2-onboarded.json")
}

// TestPausedSkippedCancelledJourneyOnARealServer pauses, resumes, skips
// and cancels a journey on the real server, and replays its history.
func TestPausedSkippedCancelledJourneyOnARealServer(t *testing.T) {
	c, comms, _ := realServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	id := WorkflowID("demo", "m2")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: TaskQueue}, WorkflowName,
		Input{Community: "demo", MemberID: "m2", Definition: shortDefinition()})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "welcome", func() bool { return slices.Contains(comms.keys(), id+"/welcome") })
	for _, signal := range []string{SignalPause, SignalResume} {
		if err := c.SignalWorkflow(ctx, id, "", signal, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SignalWorkflow(ctx, id, "", SignalSkip, SkipRequest{Step: StepCompleteProfile}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "buddy introduction", func() bool { return slices.Contains(comms.keys(), id+"/buddy-ambassador") })
	if err := c.CancelWorkflow(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err == nil {
		t.Fatal("a cancelled journey ended without an error")
	}
	replayAndKeep(t, historyOf(t, ctx, c, id, run.GetRunID()), "onboarding-v2-paused-skipped-cancelled.json")
}

// TestFirstVersionHistoryStillReplays proves the versioned change: a
// journey started before definitions replays through legacyJourney.
func TestFirstVersionHistoryStillReplays(t *testing.T) {
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(Workflow, workflowRegisterOptions())
	if err := replayer.ReplayWorkflowHistoryFromJSONFile(discardLogger(), firstVersionHistory); err != nil {
		t.Fatal(err)
	}
}

// TestReplayRecordedHistories replays every recorded history, so a change
// that would break running journeys fails here (guard it with
// workflow.GetVersion instead).
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("want the first-version history and two recorded journeys in testdata/, have %v; record with go test -run OnARealServer -record", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			replayer.RegisterWorkflowWithOptions(Workflow, workflowRegisterOptions())
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(discardLogger(), f); err != nil {
				t.Fatal(err)
			}
		})
	}
}
