package onboarding

import (
	"context"
	"flag"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/workflows/internal/replaytest"
)

var record = flag.Bool("record", false, "write the real server's histories of the journeys to testdata/")

// firstVersionHistory is a journey of the first version (before
// definitions): welcome, reminder, profile completed.
const firstVersionHistory = "testdata/onboarding-reminded-then-completed.json"

// realServer runs a worker with fake services on the real Temporal server.
func realServer(t *testing.T) (client.Client, *fakeComms, *fakeEngagement) {
	t.Helper()
	srv := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(client.Options{Logger: replaytest.Logger()}))
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
	replaytest.WaitFor(t, ctx, "profile reminder", func() bool { return slices.Contains(comms.keys(), id+"/profile-reminder-1") })
	if err := c.SignalWorkflow(ctx, id, "", SignalProfileCompleted, nil); err != nil {
		t.Fatal(err)
	}
	replaytest.WaitFor(t, ctx, "buddy introduction", func() bool { return slices.Contains(comms.keys(), id+"/buddy-ambassador") })
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
	replaytest.Keep(t, Workflow, workflowRegisterOptions(), replaytest.History(t, c, id, run.GetRunID()), "testdata/onboarding-v2-onboarded.json", *record)
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
	replaytest.WaitFor(t, ctx, "welcome", func() bool { return slices.Contains(comms.keys(), id+"/welcome") })
	for _, signal := range []string{SignalPause, SignalResume} {
		if err := c.SignalWorkflow(ctx, id, "", signal, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SignalWorkflow(ctx, id, "", SignalSkip, SkipRequest{Step: StepCompleteProfile}); err != nil {
		t.Fatal(err)
	}
	replaytest.WaitFor(t, ctx, "buddy introduction", func() bool { return slices.Contains(comms.keys(), id+"/buddy-ambassador") })
	if err := c.CancelWorkflow(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err == nil {
		t.Fatal("a cancelled journey ended without an error")
	}
	replaytest.Keep(t, Workflow, workflowRegisterOptions(), replaytest.History(t, c, id, run.GetRunID()), "testdata/onboarding-v2-paused-skipped-cancelled.json", *record)
}

// TestFirstVersionHistoryStillReplays proves the versioned change: a
// journey started before definitions replays through legacyJourney.
func TestFirstVersionHistoryStillReplays(t *testing.T) {
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(Workflow, workflowRegisterOptions())
	if err := replayer.ReplayWorkflowHistoryFromJSONFile(replaytest.Logger(), firstVersionHistory); err != nil {
		t.Fatal(err)
	}
}

// TestReplayRecordedHistories replays every recorded history, so a change
// that would break running journeys fails here (guard it with
// workflow.GetVersion instead).
func TestReplayRecordedHistories(t *testing.T) {
	// The first-version history and the two recorded journeys.
	replaytest.ReplayAll(t, Workflow, workflowRegisterOptions(), 3, "go test -run OnARealServer -record")
}
