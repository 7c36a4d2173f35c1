package ambassador

import (
	"context"
	"flag"
	"slices"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/workflows/internal/replaytest"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"
)

var record = flag.Bool("record", false, "write the real server's histories of the programme to testdata/")

func registerOptions() workflow.RegisterOptions { return workflow.RegisterOptions{Name: WorkflowName} }

// shortProgramme runs a whole year in seconds.
func shortProgramme() Programme {
	p := DefaultProgramme()
	p.Reviewers = []string{"org1"}
	p.AnnouncementTemplate = "ambassador-welcome"
	p.Training = []Task{{Name: "code-of-conduct", Due: Duration(time.Minute)}}
	p.CheckInEvery, p.ReviewEvery, p.CheckIns = Duration(time.Second), 1, 2
	return p
}

// TestProgrammeOnARealServer runs a candidacy on the real Temporal
// server — review, training, activation, a buddy reserved through an
// update, two check-ins with a promotion, renewal by continuing as new,
// offboarding in the next cycle — and replays both runs' histories.
func TestProgrammeOnARealServer(t *testing.T) {
	srv := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(client.Options{Logger: replaytest.Logger()}))
	members, comms := &fakeMembers{}, &fakeComms{}
	changed := shortProgramme()
	changed.Tiers, changed.Capacity = []string{"bronze", "silver", "gold", "platinum"}, []int{3, 5, 8, 13}
	eng := &fakeEngagement{level: "Contributor", active: []string{"hosted_event", "referred_member"}}
	acts := &Activities{Members: members, Communications: comms, Announcements: &fakeAnnouncements{}, Engagement: eng,
		Programmes: fixedProgramme{changed, 2}}
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
	replaytest.WaitFor(t, ctx, "review request", func() bool { return slices.Contains(comms.keys(), id+"/review-request/org1") })
	if err := c.SignalWorkflow(ctx, id, "", SignalReview, Review{ReviewerID: "org1", Approve: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.SignalWorkflow(ctx, id, "", SignalTaskCompleted, TaskDone{Task: "code-of-conduct"}); err != nil {
		t.Fatal(err)
	}
	replaytest.WaitFor(t, ctx, "activation", func() bool {
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
	first := replaytest.History(t, c, id, run.GetRunID())
	if last := first.Events[len(first.Events)-1]; last.GetWorkflowExecutionContinuedAsNewEventAttributes() == nil {
		t.Fatalf("the first cycle ended with %v (%+v, %v)", last.GetEventType(), res, err)
	}
	if got := members.assigned(); !slices.Equal(got, []string{"ambassador:bronze", "ambassador:silver", "ambassador:gold"}) {
		t.Errorf("roles %v", got)
	}
	if len(eng.recorded) != 1 || eng.recorded[0].GetType() != ActivityCompletedTask {
		t.Errorf("recorded %v, want the training task as completed_task", eng.recorded)
	}
	replaytest.Keep(t, Workflow, registerOptions(), first, "testdata/ambassador-v2-activated-renewed.json", *record)

	// The next cycle keeps the tier and the buddy; offboarding ends it.
	replaytest.WaitFor(t, ctx, "the second cycle", func() bool {
		v, err := c.QueryWorkflow(ctx, id, "", QueryState)
		var s State
		return err == nil && v.Get(&s) == nil && s.Cycle == 1 && s.Tier == "gold" && slices.Equal(s.Buddies, []string{"newbie"}) && s.ProgrammeVersion == 2
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
	replaytest.Keep(t, Workflow, registerOptions(), replaytest.History(t, c, id, next.GetRunID()), "testdata/ambassador-v2-renewed-offboarded.json", *record)
}

// TestReplayRecordedHistories replays every recorded history, so a change
// that would break running candidacies fails here.
func TestReplayRecordedHistories(t *testing.T) {
	// Candidacies recorded before completed tasks were recorded and
	// renewals took the current programme (ambassador-*), and after (v2).
	replaytest.ReplayAll(t, Workflow, registerOptions(), 5, "go test -run OnARealServer -args -record")
}

// fixedProgramme is a community whose current programme is p, version v.
type fixedProgramme struct {
	p Programme
	v int
}

func (f fixedProgramme) CurrentProgramme(context.Context, string) (Programme, int, error) {
	return f.p, f.v, nil
}
