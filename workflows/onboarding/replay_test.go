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

// realServer runs a worker with fake services on the real Temporal server;
// the members service knows members besides its default member.
func realServer(t *testing.T, members ...*membersv1.Member) (client.Client, *fakeComms, *fakeEngagement) {
	t.Helper()
	srv := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(client.Options{Logger: replaytest.Logger()}))
	comms, eng := &fakeComms{}, &fakeEngagement{}
	known := map[string]*membersv1.Member{}
	for _, m := range members {
		known[m.GetId()] = m
	}
	acts := &Activities{
		Members: &fakeMembers{members: known}, Communications: comms, Engagement: eng,
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

// TestConfirmedJourneyOnARealServer runs the journey of a member who
// joined publicly on the real server: nothing is sent until the
// confirmation signal, then the journey goes on; and replays its history.
func TestConfirmedJourneyOnARealServer(t *testing.T) {
	c, comms, _ := realServer(t, &membersv1.Member{Id: "m3", Community: "demo", Email: "nia@example.org", DisplayName: "Nia",
		Status: membersv1.MemberStatus_MEMBER_STATUS_ACTIVE})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	id := WorkflowID("demo", "m3")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: TaskQueue}, WorkflowName,
		Input{Community: "demo", MemberID: "m3", Definition: &Definition{Steps: []Step{{Type: StepWelcome}}}})
	if err != nil {
		t.Fatal(err)
	}
	replaytest.WaitFor(t, ctx, "waiting for the confirmation", func() bool {
		v, err := c.QueryWorkflow(ctx, id, "", QueryState)
		var s State
		return err == nil && v.Get(&s) == nil && s.Step == StepConfirmEmail
	})
	if sent := comms.keys(); len(sent) != 0 {
		t.Fatalf("sent %v before the confirmation", sent)
	}
	if err := c.SignalWorkflow(ctx, id, "", SignalEmailConfirmed, nil); err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := run.Get(ctx, &res); err != nil || res.Outcome != OutcomeOnboarded {
		t.Fatalf("journey = %+v, %v", res, err)
	}
	if sent := comms.keys(); !slices.Equal(sent, []string{id + "/welcome"}) {
		t.Errorf("sent %v, want the welcome after the confirmation", sent)
	}
	replaytest.Keep(t, Workflow, workflowRegisterOptions(), replaytest.History(t, c, id, run.GetRunID()), "testdata/onboarding-v3-confirmed.json", *record)
}

// shortGraph is everyKind without the wait until a time of day, with
// waits of seconds.
const shortGraph = `{"steps": [
  {"id": "hello", "kind": "send", "template": "onboarding-welcome"},
  {"id": "breathe", "kind": "wait", "for": "200ms"},
  {"id": "profile", "kind": "wait-for", "signal": "profile-completed", "timeout": "1m", "on_timeout": "lapsed"},
  {"id": "profiled", "kind": "branch", "if": {"attribute": "profile-completed"}, "then": "german", "else": "lapsed"},
  {"id": "german", "kind": "branch", "if": {"attribute": "locale", "in": ["de"]}, "then": "lapsed", "else": "suggest"},
  {"id": "suggest", "kind": "suggest-events", "limit": 2},
  {"id": "buddy", "kind": "assign-buddy"},
  {"id": "mark", "kind": "tag", "tag": "warm-welcome"},
  {"id": "count", "kind": "record-activity", "activity": "completed_task"},
  {"id": "tell", "kind": "notify-organiser"},
  {"id": "attend", "kind": "wait-for", "signal": "checked-in", "timeout": "1m", "next": "done-well", "on_timeout": "lapsed"},
  {"id": "lapsed", "kind": "end", "outcome": "lapsed"},
  {"id": "done-well", "kind": "end", "outcome": "onboarded"}
]}`

// TestVersionedJourneyOnARealServer runs a versioned journey of every
// step kind on the real Temporal server — paused and resumed, restarted
// from a step — and replays its history.
func TestVersionedJourneyOnARealServer(t *testing.T) {
	c, comms, eng := realServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := mustGraph(t, shortGraph)
	id := WorkflowID("demo", "m4")
	run, err := c.ExecuteWorkflow(ctx, StartOptions("demo", "m4", g, 3), WorkflowName, Input{Community: "demo", MemberID: "m4", Journey: &g, Version: 3})
	if err != nil {
		t.Fatal(err)
	}
	replaytest.WaitFor(t, ctx, "welcome", func() bool { return slices.Contains(comms.keys(), id+"/hello") })
	for _, signal := range []string{SignalPause, SignalResume} {
		if err := c.SignalWorkflow(ctx, id, "", signal, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SignalWorkflow(ctx, id, "", SignalRestart, RestartRequest{Step: "hello"}); err != nil {
		t.Fatal(err)
	}
	replaytest.WaitFor(t, ctx, "the welcome again", func() bool { return slices.Contains(comms.keys(), id+"/hello/2") })
	if err := c.SignalWorkflow(ctx, id, "", SignalProfileCompleted, nil); err != nil {
		t.Fatal(err)
	}
	replaytest.WaitFor(t, ctx, "the organisers told", func() bool { return slices.Contains(comms.keys(), id+"/tell/amb1") })
	if err := c.SignalWorkflow(ctx, id, "", SignalCheckedIn, CheckIn{EventID: "e1"}); err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := run.Get(ctx, &res); err != nil || res.Outcome != OutcomeOnboarded {
		t.Fatalf("journey = %+v, %v", res, err)
	}
	if len(eng.recorded) != 2 || eng.recorded[0].GetType() != "completed_task" || eng.recorded[1].GetType() != ActivityOnboarded {
		t.Errorf("recorded %v", eng.recorded)
	}
	replaytest.Keep(t, Workflow, workflowRegisterOptions(), replaytest.History(t, c, id, run.GetRunID()), "testdata/onboarding-v4-every-kind.json", *record)
}

// TestMigratedJourneyOnARealServer migrates a running journey to another
// version on the real server and replays its history.
func TestMigratedJourneyOnARealServer(t *testing.T) {
	c, comms, _ := realServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	v1 := mustGraph(t, `{"steps": [{"id": "hello", "kind": "send", "template": "onboarding-welcome"},
	  {"id": "profile", "kind": "wait-for", "signal": "profile-completed", "timeout": "1h"}, {"id": "end", "kind": "end"}]}`)
	v2 := mustGraph(t, `{"steps": [{"id": "hello", "kind": "send", "template": "onboarding-welcome"},
	  {"id": "profile-again", "kind": "wait-for", "signal": "profile-completed", "timeout": "1h"},
	  {"id": "thanks", "kind": "send", "template": "onboarding-attendance-nudge"}, {"id": "end", "kind": "end", "outcome": "onboarded"}]}`)
	id := WorkflowID("demo", "m5")
	run, err := c.ExecuteWorkflow(ctx, StartOptions("demo", "m5", v1, 1), WorkflowName, Input{Community: "demo", MemberID: "m5", Journey: &v1, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	replaytest.WaitFor(t, ctx, "welcome", func() bool { return slices.Contains(comms.keys(), id+"/hello") })
	if err := c.SignalWorkflow(ctx, id, "", SignalMigrate, Migration{Version: 2, Journey: v2, Step: "profile-again"}); err != nil {
		t.Fatal(err)
	}
	replaytest.WaitFor(t, ctx, "migrated", func() bool {
		v, err := c.QueryWorkflow(ctx, id, "", QueryState)
		var s State
		return err == nil && v.Get(&s) == nil && s.DefinitionVersion == 2 && s.Step == "profile-again"
	})
	if err := c.SignalWorkflow(ctx, id, "", SignalProfileCompleted, nil); err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := run.Get(ctx, &res); err != nil || res.Outcome != OutcomeOnboarded || !slices.Contains(comms.keys(), id+"/thanks") {
		t.Fatalf("journey = %+v, %v, sent %v", res, err, comms.keys())
	}
	replaytest.Keep(t, Workflow, workflowRegisterOptions(), replaytest.History(t, c, id, run.GetRunID()), "testdata/onboarding-v4-migrated.json", *record)
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
	// The first-version history, the journeys recorded before the
	// confirmation wait (v2), one waiting for it (v3), and versioned
	// journeys (v4): every step kind, a migration, one against the
	// services.
	replaytest.ReplayAll(t, Workflow, workflowRegisterOptions(), 8, "go test -run 'OnARealServer|AgainstTheServices' -args -record")
}
