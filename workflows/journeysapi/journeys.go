package journeysapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"connectrpc.com/connect"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// kindOf is the journey a request names; unspecified means onboarding.
func kindOf(k journeysv1.JourneyKind) (journeysv1.JourneyKind, error) {
	switch k {
	case journeysv1.JourneyKind_JOURNEY_KIND_UNSPECIFIED, journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING:
		return journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING, nil
	case journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR:
		return k, nil
	}
	return 0, rpc.InvalidArgument(validate.Field("kind", "is not a journey kind"))
}

func workflowID(kind journeysv1.JourneyKind, community, memberID string) string {
	if kind == journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR {
		return ambassador.WorkflowID(community, memberID)
	}
	return onboarding.WorkflowID(community, memberID)
}

func kindName(kind journeysv1.JourneyKind) string {
	if kind == journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR {
		return "ambassador"
	}
	return "onboarding"
}

// GetJourney describes one member's journey and asks it for its state.
func (h *Handler) GetJourney(ctx context.Context, req *connect.Request[journeysv1.GetJourneyRequest]) (*connect.Response[journeysv1.GetJourneyResponse], error) {
	get := h.journey
	if req.Msg.GetTestRun() {
		if k, err := kindOf(req.Msg.GetKind()); err != nil || k != journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING {
			return nil, rpc.InvalidArgument(validate.Field("test_run", "only onboarding journeys have test runs"))
		}
		get = h.testRun
	}
	j, err := get(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId(), req.Msg.GetKind())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&journeysv1.GetJourneyResponse{Journey: j}), nil
}

// testRun reads a member's onboarding test run.
func (h *Handler) testRun(ctx context.Context, community, memberID string, _ journeysv1.JourneyKind) (*journeysv1.Journey, error) {
	tc, err := h.temporal(community)
	if err != nil {
		return nil, err
	}
	if err := requireMember(memberID); err != nil {
		return nil, err
	}
	return h.describe(ctx, tc, journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING, community, memberID, onboarding.TestWorkflowID(community, memberID))
}

// journey reads a journey: its workflow's status, and its state query's
// answer when the workflow can give one.
func (h *Handler) journey(ctx context.Context, community, memberID string, k journeysv1.JourneyKind) (*journeysv1.Journey, error) {
	tc, err := h.temporal(community)
	if err != nil {
		return nil, err
	}
	if err := requireMember(memberID); err != nil {
		return nil, err
	}
	kind, err := kindOf(k)
	if err != nil {
		return nil, err
	}
	return h.describe(ctx, tc, kind, community, memberID, workflowID(kind, community, memberID))
}

// describe reads the journey of workflow id.
func (h *Handler) describe(ctx context.Context, tc client.Client, kind journeysv1.JourneyKind, community, memberID, id string) (*journeysv1.Journey, error) {
	desc, err := tc.DescribeWorkflowExecution(ctx, id, "")
	if isNotFound(err) {
		return nil, noJourney(kindName(kind))
	}
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", id, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	j := &journeysv1.Journey{Id: id, Kind: kind, Community: community, MemberId: memberID, Status: statusOf(info.GetStatus()),
		StartedAt: info.GetStartTime(), ClosedAt: info.GetCloseTime(), WorkflowUrl: h.workflowURL(community, info.GetExecution())}
	value, err := tc.QueryWorkflow(ctx, id, "", queryName(kind))
	if err != nil {
		// A journey that failed before it could answer still has a status.
		h.opts.Logger.WarnContext(ctx, "journey does not answer its state query", "workflow_id", id, "error", err)
		return j, nil
	}
	if kind == journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR {
		var s ambassador.State
		if err := value.Get(&s); err != nil {
			return nil, fmt.Errorf("read state of %s: %w", id, err)
		}
		fillAmbassador(j, s)
		return j, nil
	}
	var s onboarding.State
	if err := value.Get(&s); err != nil {
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	fillOnboarding(j, s)
	return j, nil
}

func queryName(kind journeysv1.JourneyKind) string {
	if kind == journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR {
		return ambassador.QueryState
	}
	return onboarding.QueryState
}

// ListJourneys lists a community's journeys from Temporal's visibility.
func (h *Handler) ListJourneys(ctx context.Context, req *connect.Request[journeysv1.ListJourneysRequest]) (*connect.Response[journeysv1.ListJourneysResponse], error) {
	tc, err := h.temporal(req.Msg.GetCommunity())
	if err != nil {
		return nil, err
	}
	kind, err := kindOf(req.Msg.GetKind())
	if err != nil {
		return nil, err
	}
	workflowType := onboarding.WorkflowName
	if kind == journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR {
		workflowType = ambassador.WorkflowName
	}
	page, err := list(ctx, tc, workflowType, req.Msg.GetStatuses(), req.Msg.GetPageSize(), req.Msg.GetPageToken(), 50)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	res := &journeysv1.ListJourneysResponse{NextPageToken: page.next}
	prefix := workflowID(kind, req.Msg.GetCommunity(), "")
	for _, info := range page.executions {
		s := &journeysv1.JourneySummary{Id: info.GetExecution().GetWorkflowId(), Kind: kind,
			MemberId: strings.TrimPrefix(info.GetExecution().GetWorkflowId(), prefix), Status: statusOf(info.GetStatus()),
			StartedAt: info.GetStartTime(), ClosedAt: info.GetCloseTime(), WorkflowUrl: h.workflowURL(req.Msg.GetCommunity(), info.GetExecution())}
		memo := memoOf(info.GetMemo())
		if kind == journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR {
			s.CurrentStep, s.Outcome = memo.str(ambassador.MemoStage), memo.str(ambassador.MemoOutcome)
		} else {
			s.CurrentStep, s.Outcome, s.Paused = memo.str(onboarding.MemoStep), memo.str(onboarding.MemoOutcome), memo.flag(onboarding.MemoPaused)
			s.DefinitionVersion = memo.number(onboarding.MemoVersion)
		}
		res.Journeys = append(res.Journeys, s)
	}
	return connect.NewResponse(res), nil
}

type listPage struct {
	executions []*workflowInfo
	next       string
}

// list reads one page of a workflow type's executions with statuses.
// Runs that continued as new are left out: their successor is listed.
func list(ctx context.Context, tc client.Client, workflowType string, statuses []journeysv1.JourneyStatus, size int32, token string, defaultSize int32) (listPage, error) {
	switch {
	case size < 0 || size > 500:
		return listPage{}, rpc.InvalidArgument(validate.Field("page_size", "must be between 0 and 500"))
	case size == 0:
		size = defaultSize
	}
	next, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return listPage{}, rpc.InvalidArgument(validate.Field("page_token", "is not a page token of this list"))
	}
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus != 'ContinuedAsNew'", workflowType)
	var clauses []string
	for i, s := range statuses {
		name, ok := temporalStatus(s)
		if !ok {
			return listPage{}, rpc.InvalidArgument(validate.Field(fmt.Sprintf("statuses[%d]", i), "is not a journey status"))
		}
		if clause := "ExecutionStatus = '" + name + "'"; !slices.Contains(clauses, clause) {
			clauses = append(clauses, clause)
		}
	}
	if len(clauses) > 0 {
		query += " AND (" + strings.Join(clauses, " OR ") + ")"
	}
	// The client fills in its namespace: the community's.
	res, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: size, NextPageToken: next, Query: query})
	if err != nil {
		return listPage{}, fmt.Errorf("list %s workflows: %w", workflowType, err)
	}
	return listPage{executions: res.GetExecutions(), next: base64.RawURLEncoding.EncodeToString(res.GetNextPageToken())}, nil
}

// SignalJourney tells a running journey something, after checking it
// makes sense for the journey as it stands.
func (h *Handler) SignalJourney(ctx context.Context, req *connect.Request[journeysv1.SignalJourneyRequest]) (*connect.Response[journeysv1.SignalJourneyResponse], error) {
	m := req.Msg
	kind, err := kindOf(m.GetKind())
	if err != nil {
		return nil, err
	}
	name, arg, err := signalFor(kind, m)
	if err != nil {
		return nil, err
	}
	j, err := h.journey(ctx, m.GetCommunity(), m.GetMemberId(), kind)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	if j.GetStatus() != journeysv1.JourneyStatus_JOURNEY_STATUS_RUNNING {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("the journey has ended (%s)", strings.ToLower(strings.TrimPrefix(j.GetStatus().String(), "JOURNEY_STATUS_"))))
	}
	if err := checkSignal(j, m); err != nil {
		return nil, err
	}
	tc, _ := h.temporal(m.GetCommunity())
	if err := h.opts.Store.Record(ctx, m.GetCommunity(), signalAction(m.GetSignal()), targetJourney, j.GetId(), func() error {
		return tc.SignalWorkflow(ctx, j.GetId(), "", name, arg)
	}); err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	h.opts.Logger.InfoContext(ctx, "journey signalled", "workflow_id", j.GetId(), "signal", name)
	return connect.NewResponse(&journeysv1.SignalJourneyResponse{}), nil
}

// signalFor maps a request to its workflow signal and argument.
func signalFor(kind journeysv1.JourneyKind, m *journeysv1.SignalJourneyRequest) (string, any, error) {
	onboardingOnly := func(name string, arg any) (string, any, error) {
		if kind != journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING {
			return "", nil, rpc.InvalidArgument(validate.Field("signal", "applies to onboarding journeys only"))
		}
		return name, arg, nil
	}
	ambassadorOnly := func(name string, arg any) (string, any, error) {
		if kind != journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR {
			return "", nil, rpc.InvalidArgument(validate.Field("signal", "applies to the ambassador programme only"))
		}
		return name, arg, nil
	}
	switch m.GetSignal() {
	case journeysv1.JourneySignal_JOURNEY_SIGNAL_SKIP:
		return onboardingOnly(onboarding.SignalSkip, onboarding.SkipRequest{Step: m.GetStep()})
	case journeysv1.JourneySignal_JOURNEY_SIGNAL_PAUSE:
		return onboardingOnly(onboarding.SignalPause, nil)
	case journeysv1.JourneySignal_JOURNEY_SIGNAL_RESUME:
		return onboardingOnly(onboarding.SignalResume, nil)
	case journeysv1.JourneySignal_JOURNEY_SIGNAL_PROFILE_COMPLETED:
		return onboardingOnly(onboarding.SignalProfileCompleted, nil)
	case journeysv1.JourneySignal_JOURNEY_SIGNAL_TASK_COMPLETED:
		if m.GetTask() == "" {
			return "", nil, rpc.InvalidArgument(validate.Field("task", "is required to complete a task"))
		}
		return ambassadorOnly(ambassador.SignalTaskCompleted, ambassador.TaskDone{Task: m.GetTask()})
	case journeysv1.JourneySignal_JOURNEY_SIGNAL_OFFBOARD:
		return ambassadorOnly(ambassador.SignalOffboard, nil)
	}
	return "", nil, rpc.InvalidArgument(validate.Field("signal", "is required"))
}

// checkSignal refuses what the journey as it stands cannot take.
func checkSignal(j *journeysv1.Journey, m *journeysv1.SignalJourneyRequest) error {
	switch m.GetSignal() {
	case journeysv1.JourneySignal_JOURNEY_SIGNAL_SKIP:
		steps := j.GetOnboarding().GetSteps()
		if m.GetStep() == "" {
			return nil
		}
		at, current := slices.Index(steps, m.GetStep()), slices.Index(steps, j.GetCurrentStep())
		switch {
		case at < 0:
			return rpc.InvalidArgument(validate.Field("step", "is not a step of this journey; it has %v", steps))
		case j.GetOnboarding().GetDefinitionVersion() > 0:
			// A versioned journey's steps are no line: a step is skipped
			// whenever the journey reaches it next.
		case at < current:
			return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("step %s has run already", m.GetStep()))
		}
	case journeysv1.JourneySignal_JOURNEY_SIGNAL_TASK_COMPLETED:
		stage := j.GetCurrentStep()
		if stage == ambassador.StageActivating || stage == ambassador.StageActive || stage == ambassador.StageOffboarding {
			return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("training is over (stage %s)", stage))
		}
		tasks := j.GetAmbassador().GetTraining()
		if len(tasks) > 0 && !slices.ContainsFunc(tasks, func(t *journeysv1.TrainingTask) bool { return t.GetName() == m.GetTask() }) {
			return rpc.InvalidArgument(validate.Field("task", "is not a training task of this candidacy"))
		}
	}
	return nil
}

// CancelJourney cancels a running journey; cancelling a cancelled one
// again is harmless.
func (h *Handler) CancelJourney(ctx context.Context, req *connect.Request[journeysv1.CancelJourneyRequest]) (*connect.Response[journeysv1.CancelJourneyResponse], error) {
	m := req.Msg
	tc, err := h.temporal(m.GetCommunity())
	if err != nil {
		return nil, err
	}
	if err := requireMember(m.GetMemberId()); err != nil {
		return nil, err
	}
	kind, err := kindOf(m.GetKind())
	if err != nil {
		return nil, err
	}
	id := workflowID(kind, m.GetCommunity(), m.GetMemberId())
	desc, err := tc.DescribeWorkflowExecution(ctx, id, "")
	if isNotFound(err) {
		return nil, noJourney(kindName(kind))
	}
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	switch desc.GetWorkflowExecutionInfo().GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return connect.NewResponse(&journeysv1.CancelJourneyResponse{}), nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
	default:
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("the journey has ended (%s)",
			strings.ToLower(strings.TrimPrefix(desc.GetWorkflowExecutionInfo().GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"))))
	}
	if err := h.opts.Store.Record(ctx, m.GetCommunity(), ActionCancelled, targetJourney, id, func() error {
		return tc.CancelWorkflow(ctx, id, "")
	}); err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	h.opts.Logger.InfoContext(ctx, "journey cancelled", "workflow_id", id)
	return connect.NewResponse(&journeysv1.CancelJourneyResponse{}), nil
}

// signalAction is the audit action of a signal.
func signalAction(s journeysv1.JourneySignal) string {
	switch s {
	case journeysv1.JourneySignal_JOURNEY_SIGNAL_PAUSE:
		return ActionPaused
	case journeysv1.JourneySignal_JOURNEY_SIGNAL_RESUME:
		return ActionResumed
	case journeysv1.JourneySignal_JOURNEY_SIGNAL_SKIP:
		return ActionSkipped
	case journeysv1.JourneySignal_JOURNEY_SIGNAL_PROFILE_COMPLETED:
		return ActionProfileMarked
	case journeysv1.JourneySignal_JOURNEY_SIGNAL_TASK_COMPLETED:
		return ActionTaskMarked
	}
	return ActionOffboardAsked
}
