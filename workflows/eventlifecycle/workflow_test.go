package eventlifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/kinshiphq/kinship/workflows/internal/activityerr"
)

// t0 is when every test's workflow starts.
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// recorder stands in for the activities and notes when each was called.
type recorder struct {
	env   *testsuite.TestWorkflowEnvironment
	calls []string
	// refuse makes a step of these "kind/occurrence" fail for good.
	refuse map[string]bool
	// slow makes a step take this long.
	slow map[string]time.Duration
	// skip makes a notice report it was skipped, with this reason.
	skip map[string]string
	// fail makes "offer", "expire" or "no-shows" fail for good.
	fail map[string]bool
}

func (r *recorder) failure(what string) error {
	if r.fail[what] {
		return temporal.NewNonRetryableApplicationError(what+" refused", activityerr.InvalidRequest, nil)
	}
	return nil
}

// at names a call: "+<time since t0> <what>".
func (r *recorder) note(what string) {
	r.calls = append(r.calls, fmt.Sprintf("+%v %s", r.env.Now().Sub(t0), what))
}

func newEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *recorder) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	a := &Activities{}
	env.RegisterActivity(a)
	env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	r := &recorder{env: env, refuse: map[string]bool{}, slow: map[string]time.Duration{}, skip: map[string]string{}, fail: map[string]bool{}}
	env.OnActivity(a.SendEventNotice, mock.Anything, mock.Anything).Return(func(_ context.Context, in NoticeInput) (NoticeResult, error) {
		what := in.Kind + "/" + in.OccurrenceID
		if in.Kind == NoticeReminder {
			what = fmt.Sprintf("%s-%v/%s", in.Kind, in.Before, in.OccurrenceID)
		}
		r.note(what)
		if r.refuse[what] {
			return NoticeResult{}, temporal.NewNonRetryableApplicationError("refused", activityerr.InvalidRequest, nil)
		}
		if reason := r.skip[what]; reason != "" {
			return NoticeResult{Skipped: reason}, nil
		}
		return NoticeResult{Sent: 2}, nil
	}).AfterFn(func() time.Duration {
		// AfterFn cannot see the input: every notice takes the same.
		return r.slow["notice"]
	})
	env.OnActivity(a.MarkNoShows, mock.Anything, mock.Anything).Return(func(_ context.Context, in NoShowsInput) (int, error) {
		r.note("no-shows/" + in.OccurrenceID)
		if err := r.failure("no-shows"); err != nil {
			return 0, err
		}
		return 1, nil
	})
	env.OnActivity(a.SendSeatOffer, mock.Anything, mock.Anything).Return(func(_ context.Context, in OfferInput) (NoticeResult, error) {
		r.note("offer/" + in.OccurrenceID + "/" + in.MemberID)
		if err := r.failure("offer"); err != nil {
			return NoticeResult{}, err
		}
		return NoticeResult{Sent: 1}, nil
	})
	env.OnActivity(a.ExpireSeatOffers, mock.Anything, ExpireInput{Community: "demo"}).Return(func(context.Context, ExpireInput) (ExpireResult, error) {
		r.note("expire")
		if err := r.failure("expire"); err != nil {
			return ExpireResult{}, err
		}
		return ExpireResult{Expired: 1, Offered: 1}, nil
	})
	return env, r
}

func occ(id string, startsIn, lasts time.Duration) Occurrence {
	return Occurrence{ID: id, Start: t0.Add(startsIn), End: t0.Add(startsIn + lasts)}
}

func input(occs ...Occurrence) Input {
	return Input{Community: "demo", EventID: "e1", Occurrences: occs}
}

func result(t *testing.T, env *testsuite.TestWorkflowEnvironment) Result {
	t.Helper()
	var r Result
	if err := env.GetWorkflowResult(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func wantCalls(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestLifecycleRemindsFollowsUpAndFinishes(t *testing.T) {
	env, r := newEnv(t)
	env.ExecuteWorkflow(WorkflowName, input(occ("o1", 72*time.Hour, 2*time.Hour)))
	res := result(t, env)
	wantCalls(t, r.calls,
		"+48h0m0s reminder-24h0m0s/o1",
		"+71h0m0s reminder-1h0m0s/o1",
		"+75h0m0s feedback/o1",
		"+76h0m0s no-shows/o1")
	if res.Outcome != OutcomeFinished || res.Totals != (Totals{RemindersSent: 4, FeedbackRequests: 2, NoShowsMarked: 1}) {
		t.Errorf("result = %+v", res)
	}
}

func TestLifecyclePublishedLateSkipsTheRemindersThatPassed(t *testing.T) {
	env, r := newEnv(t)
	// o1's 24 h reminder passed long ago; o2's passed 5 minutes ago,
	// within the grace, so it goes out at once.
	env.ExecuteWorkflow(WorkflowName, input(occ("o1", 10*time.Hour, time.Hour), occ("o2", 24*time.Hour-5*time.Minute, time.Hour)))
	result(t, env)
	wantCalls(t, r.calls,
		"+0s reminder-24h0m0s/o2",
		"+9h0m0s reminder-1h0m0s/o1",
		"+12h0m0s feedback/o1",
		"+13h0m0s no-shows/o1",
		"+22h55m0s reminder-1h0m0s/o2",
		"+25h55m0s feedback/o2",
		"+26h55m0s no-shows/o2")
}

func TestLifecycleFollowsMovedAddedAndDroppedOccurrences(t *testing.T) {
	env, r := newEnv(t)
	// Before any reminder: o1 alone moves two days later.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalEventUpdated, Update{OccurrenceID: "o1", Occurrences: []Occurrence{occ("o1", 96*time.Hour, time.Hour)}})
	}, time.Hour)
	// After o2's 24 h reminder: o2 moves two days later and is reminded
	// of the new time; o3 leaves the event (split off into a new one); o4
	// is added.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalEventUpdated, Update{Occurrences: []Occurrence{
			occ("o1", 96*time.Hour, time.Hour), occ("o2", 168*time.Hour, time.Hour), occ("o4", 200*time.Hour, time.Hour)}})
	}, 100*time.Hour)
	env.ExecuteWorkflow(WorkflowName, input(occ("o1", 48*time.Hour, time.Hour), occ("o2", 120*time.Hour, time.Hour), occ("o3", 150*time.Hour, time.Hour)))
	res := result(t, env)
	wantCalls(t, r.calls,
		"+72h0m0s reminder-24h0m0s/o1",
		"+95h0m0s reminder-1h0m0s/o1",
		"+96h0m0s reminder-24h0m0s/o2",
		"+98h0m0s feedback/o1",
		"+99h0m0s no-shows/o1",
		"+144h0m0s reminder-24h0m0s/o2",
		"+167h0m0s reminder-1h0m0s/o2",
		"+170h0m0s feedback/o2",
		"+171h0m0s no-shows/o2",
		"+176h0m0s reminder-24h0m0s/o4",
		"+199h0m0s reminder-1h0m0s/o4",
		"+202h0m0s feedback/o4",
		"+203h0m0s no-shows/o4")
	if res.Outcome != OutcomeFinished || res.Totals.RemindersSent != 14 {
		t.Errorf("result = %+v", res)
	}
}

func TestLifecycleTellsSeatHoldersOfACancelledEventAndEnds(t *testing.T) {
	env, r := newEnv(t)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalEventCancelled, Cancellation{}) }, 30*time.Hour)
	env.ExecuteWorkflow(WorkflowName, input(occ("o1", 24*time.Hour, time.Hour), occ("o2", 48*time.Hour, time.Hour), occ("o3", 72*time.Hour, time.Hour)))
	res := result(t, env)
	// o1 is over: only o2 and o3 are announced as cancelled.
	wantCalls(t, r.calls,
		"+0s reminder-24h0m0s/o1",
		"+23h0m0s reminder-1h0m0s/o1",
		"+24h0m0s reminder-24h0m0s/o2",
		"+26h0m0s feedback/o1",
		"+27h0m0s no-shows/o1",
		"+30h0m0s cancelled/o2",
		"+30h0m0s cancelled/o3")
	if res.Outcome != OutcomeCancelled || res.Totals.CancellationNotices != 4 || env.Now().Sub(t0) != 30*time.Hour {
		t.Errorf("result = %+v at +%v, want cancelled at +30h", res, env.Now().Sub(t0))
	}
}

func TestLifecycleDropsACancelledOccurrenceAndGoesOn(t *testing.T) {
	env, r := newEnv(t)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalSeatOffered, SeatOffer{OccurrenceID: "o2", MemberID: "m9", ExpiresAt: t0.Add(40 * time.Hour)})
	}, 28*time.Hour)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalEventCancelled, Cancellation{OccurrenceID: "o2"}) }, 30*time.Hour)
	env.ExecuteWorkflow(WorkflowName, input(occ("o1", 24*time.Hour, time.Hour), occ("o2", 48*time.Hour, time.Hour), occ("o3", 72*time.Hour, time.Hour)))
	res := result(t, env)
	// o2's offer is dropped with it: nothing expires at +40h.
	wantCalls(t, r.calls,
		"+0s reminder-24h0m0s/o1",
		"+23h0m0s reminder-1h0m0s/o1",
		"+24h0m0s reminder-24h0m0s/o2",
		"+26h0m0s feedback/o1",
		"+27h0m0s no-shows/o1",
		"+28h0m0s offer/o2/m9",
		"+30h0m0s cancelled/o2",
		"+48h0m0s reminder-24h0m0s/o3",
		"+71h0m0s reminder-1h0m0s/o3",
		"+74h0m0s feedback/o3",
		"+75h0m0s no-shows/o3")
	if res.Outcome != OutcomeFinished {
		t.Errorf("outcome = %s", res.Outcome)
	}
}

func TestLifecycleOffersSeatsAndPassesExpiredOffersOn(t *testing.T) {
	env, r := newEnv(t)
	offer := SeatOffer{OccurrenceID: "o1", MemberID: "m1", ExpiresAt: t0.Add(34 * time.Hour)}
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalSeatOffered, offer) }, 10*time.Hour)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalSeatOffered, offer) }, 11*time.Hour) // redelivered
	env.RegisterDelayedCallback(func() {
		// Arrives after it expired: not announced, passed on at once.
		env.SignalWorkflow(SignalSeatOffered, SeatOffer{OccurrenceID: "o1", MemberID: "m2", ExpiresAt: t0.Add(11 * time.Hour)})
	}, 12*time.Hour)
	env.RegisterDelayedCallback(func() {
		var s State
		v, err := env.QueryWorkflow(QueryState)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Get(&s); err != nil {
			t.Fatal(err)
		}
		if len(s.Offers) != 1 || s.Offers[0].MemberID != "m1" || !s.NextWake.Equal(offer.ExpiresAt.Add(DefaultOfferGrace)) {
			t.Errorf("state while m1's offer is open = %+v", s)
		}
	}, 20*time.Hour)
	env.ExecuteWorkflow(WorkflowName, input(occ("o1", 72*time.Hour, 2*time.Hour)))
	res := result(t, env)
	wantCalls(t, r.calls,
		"+10h0m0s offer/o1/m1",
		"+12h0m0s expire",
		"+34h0m5s expire",
		"+48h0m0s reminder-24h0m0s/o1",
		"+71h0m0s reminder-1h0m0s/o1",
		"+75h0m0s feedback/o1",
		"+76h0m0s no-shows/o1")
	if res.Totals.SeatOffersSent != 1 || res.Totals.OffersExpired != 2 {
		t.Errorf("totals = %+v", res.Totals)
	}
}

func TestLifecycleGoesOnAfterAStepFails(t *testing.T) {
	env, r := newEnv(t)
	r.refuse["reminder-24h0m0s/o1"] = true
	env.RegisterDelayedCallback(func() {
		var s State
		v, err := env.QueryWorkflow(QueryState)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Get(&s); err != nil {
			t.Fatal(err)
		}
		steps := s.Occurrences[0].Steps
		if steps[0].State != StateFailed || steps[1].State != StatePending || !s.NextWake.Equal(t0.Add(71*time.Hour)) {
			t.Errorf("state after the failed reminder = %+v", s)
		}
	}, 50*time.Hour)
	env.ExecuteWorkflow(WorkflowName, input(occ("o1", 72*time.Hour, 2*time.Hour)))
	res := result(t, env)
	if res.Outcome != OutcomeFinished || res.Totals.RemindersSent != 2 || len(r.calls) != 4 {
		t.Errorf("result = %+v, calls %v", res, r.calls)
	}
}

func TestLifecycleSkipsAReminderWhenTheOccurrenceStartedMeanwhile(t *testing.T) {
	env, r := newEnv(t)
	r.slow["notice"] = 3 * time.Hour
	// o1's feedback and o2's 1 h reminder come due together at +12h; the
	// feedback takes until +15h, when o2 has started.
	env.ExecuteWorkflow(WorkflowName, input(occ("o1", 10*time.Hour, time.Hour), occ("o2", 13*time.Hour, time.Hour)))
	result(t, env)
	for _, c := range r.calls {
		if strings.HasSuffix(c, "reminder-1h0m0s/o2") {
			t.Errorf("o2 was reminded after it started: %v", r.calls)
		}
	}
	v, err := env.QueryWorkflow(QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var s State
	if err := v.Get(&s); err != nil {
		t.Fatal(err)
	}
	if st := s.Occurrences[1].Steps[1]; st.Kind != StepReminder || st.State != StateSkipped {
		t.Errorf("o2's 1 h reminder = %+v, want skipped", st)
	}
}

func TestLongSeriesContinueAsNewWithoutRepeatingAStep(t *testing.T) {
	env, r := newEnv(t)
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 30*time.Hour)
	env.ExecuteWorkflow(WorkflowName, input(occ("o1", 48*time.Hour, time.Hour), occ("o2", 96*time.Hour, time.Hour)))
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow error = %v, want continue-as-new", err)
	}
	wantCalls(t, r.calls, "+24h0m0s reminder-24h0m0s/o1", "+47h0m0s reminder-1h0m0s/o1")
	var next Input
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if !next.Continued || len(next.Plans) != 2 || next.Totals.RemindersSent != 4 || next.EventID != "e1" {
		t.Fatalf("carried input = %+v", next)
	}

	env2, r2 := newEnv(t)
	env2.SetStartTime(t0.Add(47 * time.Hour))
	env2.ExecuteWorkflow(WorkflowName, next)
	res := result(t, env2)
	wantCalls(t, r2.calls,
		"+50h0m0s feedback/o1",
		"+51h0m0s no-shows/o1",
		"+72h0m0s reminder-24h0m0s/o2",
		"+95h0m0s reminder-1h0m0s/o2",
		"+98h0m0s feedback/o2",
		"+99h0m0s no-shows/o2")
	if res.Totals.RemindersSent != 8 || res.Totals.NoShowsMarked != 2 {
		t.Errorf("totals over both runs = %+v", res.Totals)
	}
}

func TestLifecycleRefusesBadInput(t *testing.T) {
	for name, in := range map[string]Input{
		"no event":                 {Community: "demo"},
		"a reminder after a start": {Community: "demo", EventID: "e1", Settings: Settings{ReminderOffsets: []time.Duration{-time.Hour}}},
	} {
		t.Run(name, func(t *testing.T) {
			env, _ := newEnv(t)
			env.ExecuteWorkflow(WorkflowName, in)
			if err := env.GetWorkflowError(); !activityerr.Is(err, activityerr.InvalidRequest) {
				t.Errorf("workflow error = %v, want InvalidRequest", err)
			}
		})
	}
}

func TestLifecycleRecordsNoticesTheServicesSkipped(t *testing.T) {
	env, r := newEnv(t)
	r.skip["reminder-24h0m0s/o1"] = SkippedCancelled
	r.skip["feedback/o1"] = SkippedGone
	env.ExecuteWorkflow(WorkflowName, input(occ("o1", 72*time.Hour, 2*time.Hour)))
	res := result(t, env)
	if res.Totals.RemindersSent != 2 || res.Totals.FeedbackRequests != 0 {
		t.Errorf("totals = %+v, want only the 1 h reminder counted", res.Totals)
	}
	v, err := env.QueryWorkflow(QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var s State
	if err := v.Get(&s); err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, st := range s.Occurrences[0].Steps {
		states = append(states, st.State)
	}
	if want := []string{StateSkipped, StateDone, StateSkipped, StateDone}; !slices.Equal(states, want) {
		t.Errorf("steps = %v, want %v", states, want)
	}
}

func TestLifecycleGoesOnWhenOffersExpiryAndNoticesFail(t *testing.T) {
	env, r := newEnv(t)
	r.fail["offer"], r.fail["expire"], r.fail["no-shows"] = true, true, true
	r.refuse["cancelled/o1"] = true
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalSeatOffered, SeatOffer{OccurrenceID: "o2", MemberID: "m1", ExpiresAt: t0.Add(2 * time.Hour)})
	}, time.Hour)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalEventCancelled, Cancellation{OccurrenceID: "o1"}) }, 3*time.Hour)
	env.ExecuteWorkflow(WorkflowName, input(occ("o1", 48*time.Hour, time.Hour), occ("o2", 10*time.Hour, time.Hour)))
	res := result(t, env)
	// The failed offer and expiry are dropped (the service's sweep is the
	// backstop); o1 is dropped though its cancellation notice failed; o2's
	// no-shows fail and the lifecycle still finishes.
	wantCalls(t, r.calls,
		"+1h0m0s offer/o2/m1",
		"+2h0m5s expire",
		"+3h0m0s cancelled/o1",
		"+9h0m0s reminder-1h0m0s/o2",
		"+12h0m0s feedback/o2",
		"+13h0m0s no-shows/o2")
	if res.Outcome != OutcomeFinished || res.Totals.SeatOffersSent != 0 || res.Totals.OffersExpired != 0 || res.Totals.CancellationNotices != 0 {
		t.Errorf("result = %+v", res)
	}
}
