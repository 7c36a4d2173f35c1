package journeysapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"connectrpc.com/connect"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// MaxSteered bounds the journeys one SteerJourneys call steers.
const MaxSteered = 10_000

// steering is what one SteerJourneys call does to each journey.
type steering struct {
	community string
	kind      journeysv1.JourneyKind
	action    journeysv1.SteerAction
	step      string
	tc        client.Client
}

// SteerJourneys pauses, resumes, skips, restarts or cancels the journeys of
// members or a segment, auditing each journey it steers.
func (h *Handler) SteerJourneys(ctx context.Context, req *connect.Request[journeysv1.SteerJourneysRequest]) (*connect.Response[journeysv1.SteerJourneysResponse], error) {
	m := req.Msg
	community, err := auth.Confine(ctx, m.GetCommunity())
	if err != nil {
		return nil, err
	}
	tc, err := h.temporal(community)
	if err != nil {
		return nil, err
	}
	kind, err := kindOf(m.GetKind())
	if err != nil {
		return nil, err
	}
	s := steering{community: community, kind: kind, action: m.GetAction(), step: m.GetStep(), tc: tc}
	if err := s.check(); err != nil {
		return nil, err
	}
	ids, err := h.members(ctx, community, m.GetMemberIds(), m.GetSegmentId(), MaxSteered)
	if err != nil {
		return nil, err
	}
	// One member named: their journey's answer is the call's answer.
	if len(m.GetMemberIds()) == 1 {
		if err := h.steer(ctx, s, ids[0]); err != nil {
			return nil, h.toConnect(ctx, req.Spec().Procedure, err)
		}
		return connect.NewResponse(&journeysv1.SteerJourneysResponse{Total: 1, Steered: 1}), nil
	}
	res := &journeysv1.SteerJourneysResponse{Total: int64(len(ids))}
	var mu sync.Mutex
	h.each(ctx, ids, func(id string) {
		err := h.steer(ctx, s, id)
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			res.Steered++
			return
		}
		res.Failed++
		if len(res.Failures) < maxFailures {
			res.Failures = append(res.Failures, &journeysv1.SteerFailure{MemberId: id, Reason: h.reason(ctx, err)})
		}
	})
	h.opts.Logger.InfoContext(ctx, "journeys steered", "community", community, "action", s.action.String(), "steered", res.Steered, "failed", res.Failed)
	return connect.NewResponse(res), nil
}

// check refuses what no journey of the kind can take.
func (s steering) check() error {
	switch s.action {
	case journeysv1.SteerAction_STEER_ACTION_CANCEL:
		return nil
	case journeysv1.SteerAction_STEER_ACTION_PAUSE, journeysv1.SteerAction_STEER_ACTION_RESUME, journeysv1.SteerAction_STEER_ACTION_SKIP:
	case journeysv1.SteerAction_STEER_ACTION_RESTART:
		if s.step == "" {
			return rpc.InvalidArgument(validate.Field("step", "is required to restart: name the step to go on from"))
		}
	default:
		return rpc.InvalidArgument(validate.Field("action", "must be pause, resume, skip, restart or cancel"))
	}
	if s.kind != journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING {
		return rpc.InvalidArgument(validate.Field("action", "ambassador journeys can only be cancelled here"))
	}
	return nil
}

// members are the members a call names: a list (each a member id) or a
// saved segment's, at most limit.
func (h *Handler) members(ctx context.Context, community string, list []string, segment string, limit int) ([]string, error) {
	switch {
	case len(list) > 0 && segment != "":
		return nil, rpc.InvalidArgument(validate.Field("segment_id", "give member_ids or segment_id, not both"))
	case len(list) == 0 && segment == "":
		return nil, rpc.InvalidArgument(validate.Field("member_ids", "give member_ids or segment_id"))
	case len(list) > limit:
		return nil, rpc.InvalidArgument(validate.Field("member_ids", "must hold at most %d ids", limit))
	case segment != "":
		ids, err := h.segmentMembers(ctx, community, segment)
		if err == nil && len(ids) > limit {
			return nil, rpc.InvalidArgument(validate.Field("segment_id", "selects more than %d members; narrow it", limit))
		}
		return ids, err
	}
	var errs validate.Errors
	var ids []string
	for i, id := range list {
		if id == "" || len(id) > 64 {
			errs = append(errs, validate.Field(fmt.Sprintf("member_ids[%d]", i), "must be a member id"))
		} else if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if err := errs.Err(); err != nil {
		return nil, rpc.InvalidArgument(err)
	}
	return ids, nil
}

// each runs f for every id, StartConcurrency at a time.
func (h *Handler) each(ctx context.Context, ids []string, f func(id string)) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range h.opts.StartConcurrency {
		wg.Go(func() {
			for id := range work {
				f(id)
			}
		})
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		work <- id
	}
	close(work)
	wg.Wait()
}

// reason says in a line why a journey was not steered, without leaking
// internal errors.
func (h *Handler) reason(ctx context.Context, err error) string {
	var cerr *connect.Error
	if errors.As(h.toConnect(ctx, "", err), &cerr) && cerr.Code() != connect.CodeInternal {
		return cerr.Message()
	}
	return "the journey could not be steered; try again"
}

// steer does the action to one member's journey, auditing it with the
// signal or cancellation.
func (h *Handler) steer(ctx context.Context, s steering, memberID string) error {
	id := workflowID(s.kind, s.community, memberID)
	if s.action == journeysv1.SteerAction_STEER_ACTION_CANCEL {
		desc, err := s.tc.DescribeWorkflowExecution(ctx, id, "")
		switch {
		case isNotFound(err):
			return noJourney(kindName(s.kind))
		case err != nil:
			return fmt.Errorf("describe %s: %w", id, err)
		}
		switch st := desc.GetWorkflowExecutionInfo().GetStatus(); st {
		case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
			return nil
		case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		default:
			return ended(statusOf(st))
		}
		return h.opts.Store.Record(ctx, s.community, ActionCancelled, targetJourney, id, func() error { return s.tc.CancelWorkflow(ctx, id, "") })
	}
	j, err := h.journey(ctx, s.community, memberID, s.kind)
	if err != nil {
		return err
	}
	if j.GetStatus() != journeysv1.JourneyStatus_JOURNEY_STATUS_RUNNING {
		return ended(j.GetStatus())
	}
	name, arg, action := "", any(nil), ""
	steps := j.GetOnboarding().GetSteps()
	versioned := j.GetOnboarding().GetDefinitionVersion() > 0
	switch s.action {
	case journeysv1.SteerAction_STEER_ACTION_PAUSE:
		name, action = onboarding.SignalPause, ActionPaused
	case journeysv1.SteerAction_STEER_ACTION_RESUME:
		name, action = onboarding.SignalResume, ActionResumed
	case journeysv1.SteerAction_STEER_ACTION_SKIP:
		if err := checkSignal(j, &journeysv1.SignalJourneyRequest{Signal: journeysv1.JourneySignal_JOURNEY_SIGNAL_SKIP, Step: s.step}); err != nil {
			return err
		}
		name, arg, action = onboarding.SignalSkip, onboarding.SkipRequest{Step: s.step}, ActionSkipped
	case journeysv1.SteerAction_STEER_ACTION_RESTART:
		switch {
		case !versioned:
			return connect.NewError(connect.CodeFailedPrecondition, errors.New("the journey started before definitions were versioned and cannot go back to a step"))
		case !slices.Contains(steps, s.step):
			return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("step %q is not a step of the journey's version %d; it has %s",
				s.step, j.GetOnboarding().GetDefinitionVersion(), strings.Join(steps, ", ")))
		}
		name, arg, action = onboarding.SignalRestart, onboarding.RestartRequest{Step: s.step}, ActionRestarted
	}
	return h.opts.Store.Record(ctx, s.community, action, targetJourney, id, func() error {
		return s.tc.SignalWorkflow(ctx, id, "", name, arg)
	})
}

// ended is the refusal of a journey that is over.
func ended(status journeysv1.JourneyStatus) error {
	return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("the journey has ended (%s)",
		strings.ToLower(strings.TrimPrefix(status.String(), "JOURNEY_STATUS_"))))
}
