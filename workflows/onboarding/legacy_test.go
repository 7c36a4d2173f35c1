package onboarding

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// newEnv runs journeys of the first version: before journey definitions,
// GetVersion answered DefaultVersion.
func newEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *Activities) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	a := &Activities{}
	env.RegisterActivity(a)
	env.RegisterWorkflowWithOptions(Workflow, workflowRegisterOptions())
	env.OnGetVersion(changeDefinedJourney, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	return env, a
}

func input() Input { return Input{Community: "demo", MemberID: "m1"} }

func TestFirstVersionEndsWhenProfileIsCompletedBeforeTheReminder(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.SendWelcome, mock.Anything, MessageInput{Community: "demo", MemberID: "m1", WorkflowID: "default-test-workflow-id"}).Return(nil).Once()
	env.RegisterDelayedCallback(func() {
		var s State
		v, err := env.QueryWorkflow(QueryState)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Get(&s); err != nil {
			t.Fatal(err)
		}
		if s.Version != 1 || s.Step != StepCompleteProfile || !s.WelcomeSent || s.ReminderSent || s.NextDeadline.IsZero() {
			t.Errorf("state while waiting = %+v", s)
		}
		env.SignalWorkflow(SignalProfileCompleted, nil)
	}, time.Hour)
	env.ExecuteWorkflow(WorkflowName, input())

	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := env.GetWorkflowResult(&r); err != nil || r.Outcome != OutcomeProfileCompleted {
		t.Errorf("result = %+v, %v", r, err)
	}
	env.AssertActivityNotCalled(t, "SendProfileReminder", mock.Anything, mock.Anything)
}

func TestFirstVersionRemindsOnceAfterTheConfiguredDelay(t *testing.T) {
	env, a := newEnv(t)
	var remindedAt time.Time
	env.OnActivity(a.SendWelcome, mock.Anything, mock.Anything).Return(nil).Once()
	env.OnActivity(a.SendProfileReminder, mock.Anything, mock.Anything).Return(func(_ context.Context, _ MessageInput) error {
		remindedAt = env.Now()
		return nil
	}).Once()
	start := env.Now()
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalProfileCompleted, nil) }, 3*time.Hour)
	in := input()
	in.ReminderAfter = 2 * time.Hour
	env.ExecuteWorkflow(WorkflowName, in)

	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got := remindedAt.Sub(start); got != 2*time.Hour {
		t.Errorf("reminded after %v, want 2h", got)
	}
	var r Result
	_ = env.GetWorkflowResult(&r)
	if r.Outcome != OutcomeProfileCompleted {
		t.Errorf("outcome = %q", r.Outcome)
	}
}

func TestFirstVersionGivesUpWithoutASignal(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.SendWelcome, mock.Anything, mock.Anything).Return(nil).Once()
	env.OnActivity(a.SendProfileReminder, mock.Anything, mock.Anything).Return(nil).Once()
	start := env.Now()
	env.ExecuteWorkflow(WorkflowName, input())

	var r Result
	if err := env.GetWorkflowResult(&r); err != nil || r.Outcome != OutcomeGaveUp {
		t.Fatalf("result = %+v, %v; want gave-up", r, err)
	}
	if got := env.Now().Sub(start); got != DefaultGiveUpAfter {
		t.Errorf("gave up after %v, want %v", got, DefaultGiveUpAfter)
	}
}

func TestFirstVersionKeepsWaitingWhenTheReminderIsRefused(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.SendWelcome, mock.Anything, mock.Anything).Return(nil).Once()
	env.OnActivity(a.SendProfileReminder, mock.Anything, mock.Anything).
		Return(temporal.NewNonRetryableApplicationError("refused", ErrTypeMessageRefused, nil)).Once()
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalProfileCompleted, nil) }, 72*time.Hour)
	env.ExecuteWorkflow(WorkflowName, input())
	var r Result
	if err := env.GetWorkflowResult(&r); err != nil || r.Outcome != OutcomeProfileCompleted {
		t.Errorf("result = %+v, %v; want profile-completed", r, err)
	}
}

func TestFirstVersionFailsWhenTheMemberIsGone(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.SendWelcome, mock.Anything, mock.Anything).
		Return(temporal.NewNonRetryableApplicationError("member not found", ErrTypeMemberNotFound, nil)).Once()
	env.ExecuteWorkflow(WorkflowName, input())
	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != ErrTypeMemberNotFound {
		t.Errorf("workflow error = %v, want MemberNotFound", err)
	}
}

func TestJourneyRefusesInputWithoutIDs(t *testing.T) {
	env, _ := newEnv(t)
	env.ExecuteWorkflow(WorkflowName, Input{Community: "demo"})
	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != ErrTypeInvalidRequest {
		t.Errorf("workflow error = %v, want InvalidRequest", err)
	}
}
