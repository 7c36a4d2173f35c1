package onboarding

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/encoding/protojson"
)

var record = flag.Bool("record", false, "write the real server's history of the journey to testdata/")

const recordedHistory = "testdata/onboarding-reminded-then-completed.json"

// TestJourneyOnARealServer runs a journey through the reminder on the real
// Temporal server and replays the history it produced; with -record it
// keeps that history in testdata/ for the replay test.
func TestJourneyOnARealServer(t *testing.T) {
	logger := tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	srv := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(client.Options{Logger: logger}))
	comms := &fakeComms{}
	acts := &Activities{Members: &fakeMembers{}, Communications: comms}
	srv.NewWorker(TaskQueue, func(r worker.Registry) { Register(r, acts) })
	c := srv.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	id := WorkflowID("demo", "m1")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: TaskQueue}, WorkflowName,
		Input{Community: "demo", MemberID: "m1", ReminderAfter: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Signal once the reminder went out.
	for len(comms.sentSnapshot()) < 2 {
		if ctx.Err() != nil {
			t.Fatal("no reminder within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.SignalWorkflow(ctx, id, "", SignalProfileCompleted, nil); err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := run.Get(ctx, &res); err != nil || res.Outcome != OutcomeProfileCompleted {
		t.Fatalf("journey = %+v, %v", res, err)
	}

	history := &historypb.History{}
	iter := c.GetWorkflowHistory(ctx, id, run.GetRunID(), false, 0)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		history.Events = append(history.Events, e)
	}
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(Workflow, workflowRegisterOptions())
	if err := replayer.ReplayWorkflowHistory(logger, history); err != nil {
		t.Fatalf("the workflow does not replay its own history: %v", err)
	}
	if *record {
		raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(history)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(recordedHistory, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %d events in %s", len(history.Events), recordedHistory)
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
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/; record one with go test -run TestJourneyOnARealServer -record")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			replayer.RegisterWorkflowWithOptions(Workflow, workflowRegisterOptions())
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)), f); err != nil {
				t.Fatal(err)
			}
		})
	}
}
