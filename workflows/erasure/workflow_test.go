package erasure

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/kinshiphq/kinship/workflows/internal/activityerr"
)

func newEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *Activities) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	a := &Activities{}
	env.RegisterActivity(a)
	env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	return env, a
}

var erasedAt = time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)

func input(cancel ...string) Input {
	return Input{Community: "demo", MemberID: "m1", ErasedAt: erasedAt, CancelWorkflowIDs: cancel}
}

var forget = ForgetInput{Community: "demo", MemberID: "m1"}

// confirmAll makes every store confirm at once.
func confirmAll(env *testsuite.TestWorkflowEnvironment, a *Activities) {
	env.OnActivity(a.ForgetInCommunications, mock.Anything, forget).Return(StoreReceipt{Store: StoreCommunications, ConfirmedAt: erasedAt.Add(time.Second),
		Erased: []Count{{"recipient_removed", 1}, {"messages_redacted", 4}}}, nil).Once()
	env.OnActivity(a.ForgetInEvents, mock.Anything, forget).Return(StoreReceipt{Store: StoreEvents, ConfirmedAt: erasedAt.Add(time.Second),
		Erased: []Count{{"rsvps_withdrawn", 2}}}, nil).Once()
	env.OnActivity(a.ForgetInPartners, mock.Anything, forget).Return(StoreReceipt{Store: StorePartners, ConfirmedAt: erasedAt.Add(time.Second)}, nil).Once()
}

func receiptOf(t *testing.T, env *testsuite.TestWorkflowEnvironment) Receipt {
	t.Helper()
	var r Receipt
	if err := env.GetWorkflowResult(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestErasureCancelsTheMembersWorkflowsAndEveryStoreConfirms(t *testing.T) {
	env, a := newEnv(t)
	env.OnRequestCancelExternalWorkflow(mock.Anything, "onboarding/demo/m1", "").Return(nil).Once()
	env.OnRequestCancelExternalWorkflow(mock.Anything, "ambassador/demo/m1", "").Return(&temporal.UnknownExternalWorkflowExecutionError{}).Once()
	env.OnRequestCancelExternalWorkflow(mock.Anything, "other/demo/m1", "").Return(errors.New("namespace busy")).Once()
	confirmAll(env, a)
	env.ExecuteWorkflow(WorkflowName, input("onboarding/demo/m1", "ambassador/demo/m1", "other/demo/m1"))

	r := receiptOf(t, env)
	if !r.Confirmed() || r.CompletedAt.IsZero() || r.Community != "demo" || r.MemberID != "m1" {
		t.Fatalf("receipt = %+v", r)
	}
	want := []string{StoreMembers, StoreCommunications, StoreEvents, StorePartners}
	for i, s := range r.Stores {
		if s.Store != want[i] || s.ConfirmedAt.IsZero() || s.Refused != "" {
			t.Errorf("store %d = %+v, want %s confirmed", i, s, want[i])
		}
	}
	if r.Stores[0].ConfirmedAt != erasedAt {
		t.Errorf("members confirmed at %v, want the erasure's time %v", r.Stores[0].ConfirmedAt, erasedAt)
	}
	if got := r.Stores[1].Erased; len(got) != 2 || got[1] != (Count{"messages_redacted", 4}) {
		t.Errorf("communications counts = %v", got)
	}
	wantWorkflows := []WorkflowOutcome{{"onboarding/demo/m1", OutcomeCancelRequested}, {"ambassador/demo/m1", OutcomeNotRunning},
		{"other/demo/m1", OutcomeCancelFailed}}
	if len(r.Workflows) != 3 || r.Workflows[0] != wantWorkflows[0] || r.Workflows[1] != wantWorkflows[1] || r.Workflows[2] != wantWorkflows[2] {
		t.Errorf("workflows = %+v, want %+v", r.Workflows, wantWorkflows)
	}
	env.AssertExpectations(t)
}

func TestErasureRetriesAnUnavailableStoreUntilItConfirms(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.ForgetInEvents, mock.Anything, forget).Return(StoreReceipt{}, errors.New("unavailable")).Times(3)
	confirmAll(env, a)
	env.ExecuteWorkflow(WorkflowName, input())
	if r := receiptOf(t, env); !r.Confirmed() || r.Stores[2].Refusals != 0 {
		t.Errorf("receipt = %+v", r)
	}
	env.AssertNumberOfCalls(t, "ForgetInEvents", 4)
}

func TestErasureAsksARefusingStoreAgainLater(t *testing.T) {
	env, a := newEnv(t)
	start := env.Now()
	env.OnActivity(a.ForgetInPartners, mock.Anything, forget).
		Return(StoreReceipt{}, temporal.NewNonRetryableApplicationError("denied", activityerr.PermissionDenied, nil)).Once()
	confirmAll(env, a)
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QueryReceipt)
		if err != nil {
			t.Fatal(err)
		}
		var r Receipt
		if err := v.Get(&r); err != nil {
			t.Fatal(err)
		}
		if r.Confirmed() || r.Stores[3].Refused != activityerr.PermissionDenied || !r.Stores[3].ConfirmedAt.IsZero() ||
			r.Stores[1].ConfirmedAt.IsZero() {
			t.Errorf("receipt while partners refuses = %+v", r)
		}
	}, 30*time.Minute)
	env.ExecuteWorkflow(WorkflowName, input())

	r := receiptOf(t, env)
	if !r.Confirmed() || r.Stores[3].Refusals != 1 || r.Stores[3].Refused != "" {
		t.Errorf("receipt = %+v, want partners confirmed after one refusal", r)
	}
	if took := env.Now().Sub(start); took < DefaultRetryRefusedAfter {
		t.Errorf("erasure finished after %v, want the refusing store asked again after %v", took, DefaultRetryRefusedAfter)
	}
}

func TestErasureFailsListingAStoreThatKeepsRefusing(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.ForgetInCommunications, mock.Anything, forget).
		Return(StoreReceipt{}, temporal.NewNonRetryableApplicationError("not served", activityerr.InvalidRequest, nil)).Times(3)
	env.OnActivity(a.ForgetInEvents, mock.Anything, forget).Return(StoreReceipt{Store: StoreEvents, ConfirmedAt: erasedAt}, nil).Once()
	env.OnActivity(a.ForgetInPartners, mock.Anything, forget).Return(StoreReceipt{Store: StorePartners, ConfirmedAt: erasedAt}, nil).Once()
	in := input()
	in.MaxRefusals, in.RetryRefusedAfter = 3, time.Minute
	env.ExecuteWorkflow(WorkflowName, in)

	err := env.GetWorkflowError()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrTypeIncomplete {
		t.Fatalf("workflow error = %v, want %s", err, ErrTypeIncomplete)
	}
	var r Receipt
	if err := app.Details(&r); err != nil {
		t.Fatal(err)
	}
	if r.Stores[1].Refusals != 3 || !r.Stores[1].ConfirmedAt.IsZero() || r.Stores[2].ConfirmedAt.IsZero() || r.Stores[3].ConfirmedAt.IsZero() {
		t.Errorf("receipt in the failure = %+v, want communications pending after 3 refusals, the others confirmed", r)
	}
}

func TestErasureWithNothingToCancelAndNoTimeGiven(t *testing.T) {
	env, a := newEnv(t)
	confirmAll(env, a)
	in := input()
	in.ErasedAt = time.Time{}
	env.ExecuteWorkflow(WorkflowName, in)
	r := receiptOf(t, env)
	if len(r.Workflows) != 0 || r.Stores[0].ConfirmedAt.IsZero() || !r.Confirmed() {
		t.Errorf("receipt = %+v", r)
	}
}

func TestErasureRefusesInputWithoutIDs(t *testing.T) {
	env, _ := newEnv(t)
	env.ExecuteWorkflow(WorkflowName, Input{Community: "demo"})
	if err := env.GetWorkflowError(); !activityerr.Is(err, activityerr.InvalidRequest) {
		t.Errorf("workflow error = %v, want InvalidRequest", err)
	}
}

func TestErasureCancelledWhileWaitingOnARefusingStoreEndsCancelled(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.ForgetInPartners, mock.Anything, forget).
		Return(StoreReceipt{}, temporal.NewNonRetryableApplicationError("denied", activityerr.PermissionDenied, nil))
	confirmAll(env, a)
	env.RegisterDelayedCallback(env.CancelWorkflow, 10*time.Minute)
	env.ExecuteWorkflow(WorkflowName, input())
	var canceled *temporal.CanceledError
	if err := env.GetWorkflowError(); !errors.As(err, &canceled) {
		t.Errorf("workflow error = %v, want cancelled", err)
	}
}
