package api

import (
	"context"
	"database/sql"
	"fmt"

	"connectrpc.com/connect"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/insights/domain"
)

// Goals serves GoalsService.
type Goals struct{ base }

var _ insightsv1connect.GoalsServiceHandler = (*Goals)(nil)

// NewGoals serves the goals of d's engine.
func NewGoals(d Deps) *Goals { return &Goals{newBase(d)} }

// rules are what a goal of community is checked against today.
func (h *Goals) rules(community string) (domain.GoalRules, error) {
	today, _, err := h.engine.today(community)
	if err != nil {
		return domain.GoalRules{}, err
	}
	return domain.GoalRules{Today: today, FirstDay: h.engine.firstDay(today)}, nil
}

// withProgress is g with where it stands.
func (h *Goals) withProgress(ctx context.Context, g domain.Goal) (*insightsv1.Goal, error) {
	p, err := h.engine.Progress(ctx, g)
	if err != nil {
		return nil, err
	}
	return goalToProto(g, p), nil
}

// CreateGoal adds a goal.
func (h *Goals) CreateGoal(ctx context.Context, req *connect.Request[insightsv1.CreateGoalRequest]) (*connect.Response[insightsv1.CreateGoalResponse], error) {
	fail := func(err error) error { return h.toConnect(ctx, req.Spec(), err) }
	c, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, fail(err)
	}
	r, err := h.rules(c)
	if err != nil {
		return nil, fail(err)
	}
	spec, errs := specFromProto("goal.", req.Msg.GetGoal())
	checked, _, cerr := spec.Check("goal.", r)
	if err := append(errs, validate.FieldErrors(cerr)...).Err(); err != nil {
		return nil, fail(err)
	}
	now := h.now().UTC()
	g := domain.Goal{Community: c, GoalSpec: checked, Source: domain.SourceAPI, CreatedAt: now, UpdatedAt: now}
	if err := h.store.CreateGoal(ctx, g, func(tx *sql.Tx) error { return h.audit.Record(ctx, tx, c, "goal.created", "goal", g.Name) }); err != nil {
		return nil, fail(err)
	}
	out, err := h.withProgress(ctx, g)
	if err != nil {
		return nil, fail(err)
	}
	return connect.NewResponse(&insightsv1.CreateGoalResponse{Goal: out}), nil
}

// UpdateGoal changes the masked paths of a goal.
func (h *Goals) UpdateGoal(ctx context.Context, req *connect.Request[insightsv1.UpdateGoalRequest]) (*connect.Response[insightsv1.UpdateGoalResponse], error) {
	fail := func(err error) error { return h.toConnect(ctx, req.Spec(), err) }
	c, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, fail(err)
	}
	name, ferr := domain.CheckName("name", req.Msg.GetName())
	if ferr != nil {
		return nil, fail(ferr)
	}
	paths := req.Msg.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, fail(validate.Field("update_mask", "must name at least one path"))
	}
	r, err := h.rules(c)
	if err != nil {
		return nil, fail(err)
	}
	spec, errs := specFromProto("goal.", req.Msg.GetGoal())
	if err := errs.Err(); err != nil {
		return nil, fail(err)
	}
	g, err := h.store.UpdateGoal(ctx, c, name, func(g *domain.Goal) error {
		next := g.GoalSpec
		for _, p := range paths {
			switch p {
			case "metric":
				next.Metric = spec.Metric
			case "segment":
				next.Segment = spec.Segment
			case "breakdown_value":
				next.BreakdownValue = spec.BreakdownValue
			case "target":
				next.Target = spec.Target
			case "deadline":
				next.Deadline, next.HasDeadline = spec.Deadline, spec.HasDeadline
			case "baseline_date":
				next.Baseline = spec.Baseline
			case "description":
				next.Description = spec.Description
			default:
				return validate.Field("update_mask", "path %q cannot be changed; use metric, segment, breakdown_value, target, deadline, baseline_date or description", p)
			}
		}
		rules := r
		// An unchanged baseline may lie before today's first day; an
		// unchanged deadline may not have passed yet anyway.
		if next.Baseline == g.Baseline {
			rules.FirstDay = min(rules.FirstDay, g.Baseline)
		}
		checked, _, err := next.Check("goal.", rules)
		if err != nil {
			return err
		}
		g.GoalSpec, g.UpdatedAt = checked, h.now().UTC()
		return nil
	}, func(tx *sql.Tx) error { return h.audit.Record(ctx, tx, c, "goal.updated", "goal", name) })
	if err != nil {
		return nil, fail(err)
	}
	out, err := h.withProgress(ctx, g)
	if err != nil {
		return nil, fail(err)
	}
	return connect.NewResponse(&insightsv1.UpdateGoalResponse{Goal: out}), nil
}

// ArchiveGoal archives a goal.
func (h *Goals) ArchiveGoal(ctx context.Context, req *connect.Request[insightsv1.ArchiveGoalRequest]) (*connect.Response[insightsv1.ArchiveGoalResponse], error) {
	fail := func(err error) error { return h.toConnect(ctx, req.Spec(), err) }
	c, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, fail(err)
	}
	name, ferr := domain.CheckName("name", req.Msg.GetName())
	if ferr != nil {
		return nil, fail(ferr)
	}
	g, err := h.store.ArchiveGoal(ctx, c, name, h.now().UTC(), func(tx *sql.Tx) error { return h.audit.Record(ctx, tx, c, "goal.archived", "goal", name) })
	if err != nil {
		return nil, fail(err)
	}
	out, err := h.withProgress(ctx, g)
	if err != nil {
		return nil, fail(err)
	}
	return connect.NewResponse(&insightsv1.ArchiveGoalResponse{Goal: out}), nil
}

// GetGoal returns one goal.
func (h *Goals) GetGoal(ctx context.Context, req *connect.Request[insightsv1.GetGoalRequest]) (*connect.Response[insightsv1.GetGoalResponse], error) {
	fail := func(err error) error { return h.toConnect(ctx, req.Spec(), err) }
	c, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, fail(err)
	}
	name, ferr := domain.CheckName("name", req.Msg.GetName())
	if ferr != nil {
		return nil, fail(ferr)
	}
	g, err := h.store.Goal(ctx, c, name)
	if err != nil {
		return nil, fail(err)
	}
	out, err := h.withProgress(ctx, g)
	if err != nil {
		return nil, fail(err)
	}
	return connect.NewResponse(&insightsv1.GetGoalResponse{Goal: out}), nil
}

// ListGoals returns the goals with where each stands.
func (h *Goals) ListGoals(ctx context.Context, req *connect.Request[insightsv1.ListGoalsRequest]) (*connect.Response[insightsv1.ListGoalsResponse], error) {
	fail := func(err error) error { return h.toConnect(ctx, req.Spec(), err) }
	c, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, fail(err)
	}
	goals, err := h.store.Goals(ctx, c, req.Msg.GetIncludeArchived())
	if err != nil {
		return nil, fail(err)
	}
	res := &insightsv1.ListGoalsResponse{}
	for _, g := range goals {
		out, err := h.withProgress(ctx, g)
		if err != nil {
			return nil, fail(err)
		}
		res.Goals = append(res.Goals, out)
	}
	return connect.NewResponse(res), nil
}

// SyncGoals makes a Community resource's goals the community's.
func (h *Goals) SyncGoals(ctx context.Context, req *connect.Request[insightsv1.SyncGoalsRequest]) (*connect.Response[insightsv1.SyncGoalsResponse], error) {
	fail := func(err error) error { return h.toConnect(ctx, req.Spec(), err) }
	c, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, fail(err)
	}
	if n := len(req.Msg.GetGoals()); n > domain.MaxGoalsPerSync {
		return nil, fail(validate.Field("goals", "may hold at most %d goals, got %d", domain.MaxGoalsPerSync, n))
	}
	r, err := h.rules(c)
	if err != nil {
		return nil, fail(err)
	}
	existing, err := h.store.Goals(ctx, c, true)
	if err != nil {
		return nil, fail(err)
	}
	known := map[string]domain.Goal{}
	for _, g := range existing {
		known[g.Name] = g
	}
	now := h.now().UTC()
	var errs validate.Errors
	var goals []domain.Goal
	seen := map[string]bool{}
	for i, pg := range req.Msg.GetGoals() {
		prefix := fmt.Sprintf("goals[%d].", i)
		spec, serrs := specFromProto(prefix, pg)
		errs = append(errs, serrs...)
		rules := r
		old, had := known[spec.Name]
		if had && old.Source == domain.SourceResource {
			// The resource's own goal keeps its baseline unless it names
			// one, and may keep a deadline that has passed since.
			if spec.Baseline == 0 {
				spec.Baseline = old.Baseline
			}
			rules.FirstDay = min(rules.FirstDay, old.Baseline)
			if spec.HasDeadline && old.HasDeadline && spec.Deadline == old.Deadline {
				rules.Today = min(rules.Today, old.Deadline)
			}
		}
		checked, _, cerr := spec.Check(prefix, rules)
		errs = append(errs, validate.FieldErrors(cerr)...)
		if seen[checked.Name] {
			errs = append(errs, validate.Field(prefix+"name", "names a goal twice"))
		}
		seen[checked.Name] = true
		goals = append(goals, domain.Goal{Community: c, GoalSpec: checked, CreatedAt: now})
	}
	if err := errs.Err(); err != nil {
		return nil, fail(err)
	}
	archived, err := h.store.SyncGoals(ctx, c, goals, now, func(tx *sql.Tx) error { return h.audit.Record(ctx, tx, c, "goals.synced", "community", c) })
	if err != nil {
		return nil, fail(err)
	}
	res := &insightsv1.SyncGoalsResponse{Archived: archived}
	for _, g := range goals {
		stored, err := h.store.Goal(ctx, c, g.Name)
		if err != nil {
			return nil, fail(err)
		}
		out, err := h.withProgress(ctx, stored)
		if err != nil {
			return nil, fail(err)
		}
		if s := out.GetProgress().GetStatus(); s == insightsv1.GoalStatus_GOAL_STATUS_ON_TRACK || s == insightsv1.GoalStatus_GOAL_STATUS_ACHIEVED {
			res.OnTrack++
		}
		res.Goals = append(res.Goals, out)
	}
	return connect.NewResponse(res), nil
}
