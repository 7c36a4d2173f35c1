package ambassador

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
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/encoding/protojson"
)

var record = flag.Bool("record", false, "write the real server's histories of the programme to testdata/")

func discardLogger() tlog.Logger { return tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)) }

// shortProgramme runs a whole year in seconds.
func shortProgramme() Programme {
	p := DefaultProgramme()
	p.Reviewers = []string{"org1"}
	p.AnnouncementTemplate = "ambassador-welcome"
	p.Training = []Task{{Name: "code-of-conduct", Due: Duration(time.Minute)}}
	p.CheckInEvery, p.ReviewEvery, p.CheckIns = Duration(time.Second), 1, 2
	return p
}

func replayer() worker.WorkflowReplayer {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	return r
}

// TestProgrammeOnARealServer runs a candidacy on the real Temporal
// server — review, training, activation, a buddy reserved through an
// update, two check-ins with a promotion, renewal by continuing as new,
// offboarding in the next cycle — and replays both runs' histories.
func TestProgrammeOnARealServer(t *testing.T) {
	srv := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(client.Options{Logger: discardLogger()}))
	members, comms := &fakeMembers{}, &fakeComms{}
	acts := &Activities{Members: members, Communications: comms, Announcements: &fakeAnnouncements{},
		Engagement: &fakeEngagement{level: "Contributor", active: []string{"hosted_event", "referred_member"}}}
	srv.NewWorker(TaskQueue, func(r worker.Registry) { Register(r, acts) })
	c := srv.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	id := WorkflowID("demo", "cand")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: TaskQueue}, WorkflowName,
		Input{Community: "demo", MemberID: "cand", Programme: shortProgramme(), Nomination: Nomination{By: "org1", Kind: NominatedByOrganiser}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "review request", func() bool { return slices.Contains(comms.keys(), id+"/review-request/org1") })
	if err := c.SignalWorkflow(ctx, id, "", SignalReview, Review{ReviewerID: "org1", Approve: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.SignalWorkflow(ctx, id, "", SignalTaskCompleted, TaskDone{Task: "code-of-conduct"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "activation", func() bool {
		v, err := c.QueryWorkflow(ctx, id, "", QueryState)
		var s State
		return err == nil && v.Get(&s) == nil && s.Stage == StageActive
	})
	book := Book{Temporal: c}
	ok, err := book.Reserve(ctx, "demo", "cand", "newbie")
	if err != nil || !ok {
		t.Fatalf("reserve = %v, %v", ok, err)
	}
	if ok, err := book.Reserve(ctx, "demo", "nobody", "newbie"); err != nil || ok {
		t.Errorf("reserving with an ambassador outside the programme = %v, %v", ok, err)
	}

	// The first cycle ends in a renewal: the run continues as new.
	var res Result
	err = run.GetWithOptions(ctx, &res, client.WorkflowRunGetOptions{DisableFollowingRuns: true})
	first := historyOf(t, ctx, c, id, run.GetRunID())
	if last := first.Events[len(first.Events)-1]; last.GetWorkflowExecutionContinuedAsNewEventAttributes() == nil {
		t.Fatalf("the first cycle ended with %v (%+v, %v)", last.GetEventType(), res, err)
	}
	if got := members.assigned(); !slices.Equal(got, []string{"ambassador:bronze", "ambassador:silver", "ambassador:gold"}) {
		t.Errorf("roles %v", got)
	}
	keep(t, first, "ambassador-activated-renewed.json")

	// The next cycle keeps the tier and the buddy; offboarding ends it.
	waitFor(t, ctx, "the second cycle", func() bool {
		v, err := c.QueryWorkflow(ctx, id, "", QueryState)
		var s State
		return err == nil && v.Get(&s) == nil && s.Cycle == 1 && s.Tier == "gold" && slices.Equal(s.Buddies, []string{"newbie"})
	})
	if err := book.Release(ctx, "demo", "cand", "newbie"); err != nil {
		t.Fatal(err)
	}
	if err := c.SignalWorkflow(ctx, id, "", SignalOffboard, nil); err != nil {
		t.Fatal(err)
	}
	next := c.GetWorkflow(ctx, id, "")
	if err := next.Get(ctx, &res); err != nil || res.Outcome != OutcomeOffboarded {
		t.Fatalf("second cycle = %+v, %v", res, err)
	}
	keep(t, historyOf(t, ctx, c, id, next.GetRunID()), "ambassador-renewed-offboarded.json")
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
	h := &historypb.History{}
	iter := c.GetWorkflowHistory(ctx, id, runID, false, 0)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	return h
}

// keep replays h and, with -record, writes it to testdata/.
func keep(t *testing.T, h *historypb.History, file string) {
	t.Helper()
	if err := replayer().ReplayWorkflowHistory(discardLogger(), h); err != nil {
		t.Fatalf("the workflow does not replay its own history: %v", err)
	}
	if !*record {
		return
	}
	raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", file), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events in testdata/%s", len(h.Events), file)
}

// TestReplayRecordedHistories replays every recorded history, so a change
// that would break running candidacies fails here.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("recorded histories %v; record them with go test -run OnARealServer -args -record", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := replayer().ReplayWorkflowHistoryFromJSONFile(discardLogger(), f); err != nil {
				t.Fatal(err)
			}
		})
	}
}
