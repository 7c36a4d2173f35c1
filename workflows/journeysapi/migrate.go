package journeysapi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"connectrpc.com/connect"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/definitions"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// Statuses of a journey in a migration (JourneyMove.status).
const (
	moveWould        = "moves"
	moveMoved        = "moved"
	moveUnmapped     = "unmapped"
	moveNotVersioned = "not-versioned"
	moveFailed       = "failed"
	maxMoves         = 500
)

// candidate is a running journey a migration considers.
type candidate struct {
	memberID, workflowID string
	version              int
	step                 string
}

// MigrateJourneys moves running onboarding journeys to a published version,
// or reports where they would land.
func (h *Handler) MigrateJourneys(ctx context.Context, req *connect.Request[journeysv1.MigrateJourneysRequest]) (*connect.Response[journeysv1.MigrateJourneysResponse], error) {
	m := req.Msg
	tc, err := h.temporal(m.GetCommunity())
	if err != nil {
		return nil, err
	}
	var errs validate.Errors
	if m.GetToVersion() < 1 {
		errs = append(errs, validate.Field("to_version", "must name a published version"))
	}
	if m.GetFromVersion() < 0 {
		errs = append(errs, validate.Field("from_version", "must not be negative"))
	}
	keys := make([]string, 0, len(m.GetStepMap()))
	for from, to := range m.GetStepMap() {
		keys = append(keys, from)
		if from == "" || to == "" || len(from) > 40 || len(to) > 40 {
			errs = append(errs, validate.Field("step_map", "maps step ids to step ids"))
		}
	}
	sort.Strings(keys)
	if len(m.GetMemberIds()) > MaxSteered {
		errs = append(errs, validate.Field("member_ids", "must hold at most %d ids", MaxSteered))
	}
	if err := errs.Err(); err != nil {
		return nil, rpc.InvalidArgument(err)
	}
	target, err := h.opts.Store.Get(ctx, m.GetCommunity(), definitions.KindOnboarding, int(m.GetToVersion()))
	if err != nil {
		return nil, h.storeError(ctx, req.Spec().Procedure, err)
	}
	if !target.Published() {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("version %d is a draft: publish it before moving journeys to it", target.Version))
	}
	g, err := target.Onboarding()
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	for _, from := range keys {
		if to := m.GetStepMap()[from]; !g.Has(to) {
			return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("step_map sends %s to step %q, which version %d does not have; it has %s",
				from, to, target.Version, strings.Join(g.IDs(), ", ")))
		}
	}
	journeys, err := h.runningJourneys(ctx, tc, m.GetCommunity(), m.GetMemberIds())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	res := &journeysv1.MigrateJourneysResponse{DryRun: m.GetDryRun(), ToVersion: int32(target.Version)}
	type plan struct {
		candidate
		to string
	}
	var moving []plan
	unmappedSteps := map[string]bool{}
	transitions := map[[3]string]*journeysv1.MigrationTransition{}
	for _, c := range journeys {
		if c.version == target.Version || (m.GetFromVersion() > 0 && c.version != int(m.GetFromVersion())) {
			continue
		}
		res.Total++
		move := &journeysv1.JourneyMove{MemberId: c.memberID, FromVersion: int32(c.version), FromStep: c.step}
		switch to := landing(g, c.step, m.GetStepMap()); {
		case c.version == 0:
			move.Status = moveNotVersioned
			res.NotVersioned++
		case to == "":
			move.Status = moveUnmapped
			res.Unmapped++
			unmappedSteps[c.step] = true
		default:
			move.ToStep, move.Status = to, moveWould
			moving = append(moving, plan{c, to})
			key := [3]string{fmt.Sprint(c.version), c.step, to}
			if transitions[key] == nil {
				transitions[key] = &journeysv1.MigrationTransition{FromVersion: int32(c.version), FromStep: c.step, ToStep: to}
			}
			transitions[key].Count++
		}
		if len(res.Moves) < maxMoves {
			res.Moves = append(res.Moves, move)
		}
	}
	for _, t := range transitions {
		res.Transitions = append(res.Transitions, t)
	}
	sort.Slice(res.Transitions, func(i, j int) bool {
		a, b := res.Transitions[i], res.Transitions[j]
		if a.GetFromVersion() != b.GetFromVersion() {
			return a.GetFromVersion() < b.GetFromVersion()
		}
		if a.GetFromStep() != b.GetFromStep() {
			return a.GetFromStep() < b.GetFromStep()
		}
		return a.GetToStep() < b.GetToStep()
	})
	if m.GetDryRun() {
		res.Moved = int64(len(moving))
		return connect.NewResponse(res), nil
	}
	if len(unmappedSteps) > 0 {
		steps := make([]string, 0, len(unmappedSteps))
		for s := range unmappedSteps {
			steps = append(steps, s)
		}
		sort.Strings(steps)
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("journeys at %s have no step of the same id in version %d: map them with step_map (a dry run lists them)",
			strings.Join(steps, ", "), target.Version))
	}
	status := map[string]string{}
	var mu sync.Mutex
	byMember := map[string]plan{}
	ids := make([]string, 0, len(moving))
	for _, p := range moving {
		byMember[p.memberID] = p
		ids = append(ids, p.memberID)
	}
	h.each(ctx, ids, func(id string) {
		p := byMember[id]
		err := h.opts.Store.Record(ctx, m.GetCommunity(), ActionMigrated, targetJourney, p.workflowID, func() error {
			return tc.SignalWorkflow(ctx, p.workflowID, "", onboarding.SignalMigrate, onboarding.Migration{Version: target.Version, Journey: g, Step: p.to})
		})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			h.opts.Logger.WarnContext(ctx, "cannot migrate a journey", "workflow_id", p.workflowID, "error", err)
			status[id] = moveFailed
			res.Failed++
			return
		}
		status[id] = moveMoved
		res.Moved++
	})
	for _, mv := range res.Moves {
		if s, ok := status[mv.GetMemberId()]; ok {
			mv.Status = s
		}
	}
	h.opts.Logger.InfoContext(ctx, "journeys migrated", "community", m.GetCommunity(), "to_version", target.Version, "moved", res.Moved, "failed", res.Failed)
	return connect.NewResponse(res), nil
}

// landing is where a journey at step lands in g: where stepMap sends it,
// or the step of the same id. A journey still waiting for its member's
// address lands on g's start once the address is confirmed. "" when the
// step has no counterpart.
func landing(g onboarding.Graph, step string, stepMap map[string]string) string {
	if to, ok := stepMap[step]; ok {
		return to
	}
	if step == onboarding.StepConfirmEmail {
		return g.First()
	}
	if g.Has(step) {
		return step
	}
	return ""
}

// runningJourneys lists the running onboarding journeys, of the members
// named or all of them, with the version and step their memo shows.
func (h *Handler) runningJourneys(ctx context.Context, tc client.Client, community string, memberIDs []string) ([]candidate, error) {
	prefix := onboarding.WorkflowID(community, "")
	var out []candidate
	add := func(info *workflowInfo) {
		memo := memoOf(info.GetMemo())
		id := info.GetExecution().GetWorkflowId()
		out = append(out, candidate{memberID: strings.TrimPrefix(id, prefix), workflowID: id,
			version: int(memo.number(onboarding.MemoVersion)), step: memo.str(onboarding.MemoStep)})
	}
	if len(memberIDs) > 0 {
		for i, id := range memberIDs {
			if err := requireMember(id); err != nil {
				return nil, rpc.InvalidArgument(validate.Field(fmt.Sprintf("member_ids[%d]", i), "must be a member id"))
			}
			desc, err := tc.DescribeWorkflowExecution(ctx, onboarding.WorkflowID(community, id), "")
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("describe the journey of %s: %w", id, err)
			}
			if info := desc.GetWorkflowExecutionInfo(); info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				add(info)
			}
		}
		return out, nil
	}
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", onboarding.WorkflowName)
	var token []byte
	for {
		res, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1000, NextPageToken: token, Query: query})
		if err != nil {
			return nil, fmt.Errorf("list running journeys: %w", err)
		}
		for _, info := range res.GetExecutions() {
			add(info)
		}
		if token = res.GetNextPageToken(); len(token) == 0 {
			return out, nil
		}
		if len(out) > 1_000_000 {
			return nil, errors.New("more than a million running journeys: migrate them by member_ids")
		}
	}
}
