package digest

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

var monday = time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)

func TestDigestIsKeyedByTheScheduledTime(t *testing.T) {
	env, a := newEnv(t)
	if err := env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(ScheduledStartTime().ValueSet(monday))); err != nil {
		t.Fatal(err)
	}
	env.SetStartTime(monday.Add(3 * time.Minute)) // a late start keeps the scheduled time's key
	env.OnActivity(a.EnsureDigestTemplate, mock.Anything, TemplateInput{Community: "demo", Template: DefaultTemplate}).Return(nil).Once()
	env.OnActivity(a.CreateDigest, mock.Anything, DigestInput{Community: "demo", Template: DefaultTemplate, IdempotencyKey: "digest/demo/2026-03-16T09:00:00Z"}).
		Return(Result{AnnouncementID: "a1", IdempotencyKey: "digest/demo/2026-03-16T09:00:00Z", Recipients: 3}, nil).Once()
	env.ExecuteWorkflow(WorkflowName, Input{Community: "demo"})
	var r Result
	if err := env.GetWorkflowResult(&r); err != nil || r.AnnouncementID != "a1" || r.Recipients != 3 {
		t.Fatalf("result = %+v, %v", r, err)
	}
	env.AssertExpectations(t)
}

func TestDigestKeyFallsBackToTheGivenTimeThenTheStartTime(t *testing.T) {
	for name, tc := range map[string]struct {
		in   Input
		want string
	}{
		"a run by hand names its time": {Input{Community: "demo", Template: "news", NominalTime: monday.In(time.FixedZone("CET", 3600))}, "digest/demo/2026-03-16T09:00:00Z"},
		"no time at all: the start":    {Input{Community: "demo", Template: "news"}, "digest/demo/2026-03-17T10:00:00Z"},
	} {
		t.Run(name, func(t *testing.T) {
			env, a := newEnv(t)
			env.SetStartTime(monday.Add(25 * time.Hour))
			env.OnActivity(a.EnsureDigestTemplate, mock.Anything, TemplateInput{Community: "demo", Template: "news"}).Return(nil).Once()
			env.OnActivity(a.CreateDigest, mock.Anything, DigestInput{Community: "demo", Template: "news", IdempotencyKey: tc.want}).
				Return(Result{AnnouncementID: "a1", IdempotencyKey: tc.want}, nil).Once()
			env.ExecuteWorkflow(WorkflowName, tc.in)
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			env.AssertExpectations(t)
		})
	}
}

func TestDigestFailsWithoutSendingWhenTheTemplateCannotBeMade(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.EnsureDigestTemplate, mock.Anything, mock.Anything).
		Return(temporal.NewNonRetryableApplicationError("denied", activityerr.PermissionDenied, nil)).Once()
	env.ExecuteWorkflow(WorkflowName, Input{Community: "demo"})
	if err := env.GetWorkflowError(); !activityerr.Is(err, activityerr.PermissionDenied) {
		t.Errorf("workflow error = %v, want PermissionDenied", err)
	}
	env.AssertActivityNotCalled(t, "CreateDigest", mock.Anything, mock.Anything)
}

func TestDigestFailsWhenTheAnnouncementIsRefused(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.EnsureDigestTemplate, mock.Anything, mock.Anything).Return(nil).Once()
	env.OnActivity(a.CreateDigest, mock.Anything, mock.Anything).
		Return(Result{}, temporal.NewNonRetryableApplicationError("bad template", activityerr.InvalidRequest, nil)).Once()
	env.ExecuteWorkflow(WorkflowName, Input{Community: "demo"})
	if err := env.GetWorkflowError(); !activityerr.Is(err, activityerr.InvalidRequest) {
		t.Errorf("workflow error = %v, want InvalidRequest", err)
	}
}

func TestDigestRetriesATransientFailure(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.EnsureDigestTemplate, mock.Anything, mock.Anything).Return(nil).Once()
	env.OnActivity(a.CreateDigest, mock.Anything, mock.Anything).Return(Result{}, errors.New("unavailable")).Once()
	env.OnActivity(a.CreateDigest, mock.Anything, mock.Anything).Return(Result{AnnouncementID: "a1"}, nil).Once()
	env.ExecuteWorkflow(WorkflowName, Input{Community: "demo"})
	var r Result
	if err := env.GetWorkflowResult(&r); err != nil || r.AnnouncementID != "a1" {
		t.Errorf("result = %+v, %v", r, err)
	}
}

func TestDigestRefusesInputWithoutCommunity(t *testing.T) {
	env, _ := newEnv(t)
	env.ExecuteWorkflow(WorkflowName, Input{})
	if err := env.GetWorkflowError(); !activityerr.Is(err, activityerr.InvalidRequest) {
		t.Errorf("workflow error = %v, want InvalidRequest", err)
	}
}
