package controller

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/external"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// Reasons of the GoalsSynced condition.
const (
	reasonGoalsSynced       = "Synced"
	reasonGoalsRefused      = "GoalsRefused"
	reasonInsightsNotReady  = "InsightsNotReady"
	reasonInsightsUnreached = "InsightsUnavailable"
	reasonGoalsSuspended    = "Suspended"
)

// DefaultGoalsResync is how often the goals of a Community that names
// some are read again when nothing else wakes the controller: their
// status changes with time (a deadline comes closer, members join).
const DefaultGoalsResync = 5 * time.Minute

// goalsRetry is how soon goals are tried again when the insights service,
// ready by its probes, did not answer (sooner when GoalsResync is).
const goalsRetry = time.Minute

// goalsOutcome is what the goals step found for the status.
type goalsOutcome struct {
	goals   []kinshipv1alpha1.GoalStatus // without transition times
	onTrack *int32
}

// reconcileGoals makes the insights service hold spec.goals and reports
// where each stands (status.goals, the GoalsSynced condition). It never
// fails the reconcile: goals wait for the insights service, and the rest
// of the instance does not wait for goals. It returns how soon to look
// again, or 0 when only a change should wake the controller.
//
// A spec the insights service has not accepted yet (a new generation) is
// sent with SyncGoals; afterwards the goals are only read (ListGoals,
// which changes and audits nothing), and sent again should the service
// have lost them. insightsReady says whether the insights Deployment has
// a ready replica; until it has, nothing is asked, and its becoming ready
// wakes the controller.
func (r *CommunityReconciler) reconcileGoals(ctx context.Context, c *kinshipv1alpha1.Community, insightsReady bool, st *statusBuilder) time.Duration {
	if r.Goals == nil {
		return 0
	}
	switch {
	case c.Spec.Suspend:
		st.set(kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionUnknown, reasonGoalsSuspended,
			"the insights service is scaled to zero; goals are synced once the community resumes")
		return 0
	case !insightsReady:
		st.set(kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionUnknown, reasonInsightsNotReady,
			"waiting for a ready replica of the insights service")
		return 0
	}
	specs, err := goalSpecs(c)
	if err != nil {
		st.set(kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionFalse, reasonGoalsRefused, err.Error())
		return 0
	}
	target := external.InsightsTarget{URL: insightsURL(c), Community: c.Name, Audience: c.Spec.Auth.WorkloadAudience}
	cond := meta.FindStatusCondition(c.Status.Conditions, kinshipv1alpha1.ConditionGoalsSynced)
	synced := cond != nil && cond.Status == metav1.ConditionTrue && cond.Reason == reasonGoalsSynced && cond.ObservedGeneration == c.Generation
	if synced && len(specs) == 0 {
		return 0 // nothing named, nothing to refresh
	}
	var progress []external.GoalProgress
	if synced {
		var listed []external.GoalProgress
		if listed, err = r.Goals.ListGoals(ctx, target); err == nil {
			progress, synced = namedGoals(listed, specs)
		}
	}
	if err == nil && !synced {
		progress, err = r.Goals.SyncGoals(ctx, target, specs)
	}
	var refused *external.GoalsRefusedError
	switch {
	case errors.As(err, &refused):
		st.set(kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionFalse, reasonGoalsRefused, "spec.goals: "+refused.Message)
		return 0
	case err != nil:
		r.Logger.Info("goals not synced; retrying", "community", c.Name, "error", err.Error())
		st.set(kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionUnknown, reasonInsightsUnreached, err.Error())
		return min(goalsRetry, r.goalsResync())
	}
	out := goalsOutcome{goals: goalStatuses(progress)}
	var onTrack int32
	for _, g := range out.goals {
		if g.Status == kinshipv1alpha1.GoalOnTrack || g.Status == kinshipv1alpha1.GoalAchieved {
			onTrack++
		}
	}
	if len(out.goals) > 0 {
		out.onTrack = &onTrack
	}
	st.goals = &out
	msg := "no goals"
	if n := len(out.goals); n > 0 {
		msg = fmt.Sprintf("%d of %d goals on track or achieved", onTrack, n)
	}
	st.set(kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionTrue, reasonGoalsSynced, msg)
	if len(specs) == 0 {
		return 0
	}
	return r.goalsResync()
}

func (r *CommunityReconciler) goalsResync() time.Duration {
	if r.GoalsResync > 0 {
		return r.GoalsResync
	}
	return DefaultGoalsResync
}

// insightsURL is the in-cluster URL of c's insights service.
func insightsURL(c *kinshipv1alpha1.Community) string {
	comp, _ := resources.ComponentByName("insights")
	return comp.URL(c)
}

// goalSpecs are spec.goals as the insights service takes them.
func goalSpecs(c *kinshipv1alpha1.Community) ([]external.GoalSpec, error) {
	out := make([]external.GoalSpec, 0, len(c.Spec.Goals))
	for i, g := range c.Spec.Goals {
		target, err := strconv.ParseFloat(g.Target, 64)
		if err != nil || math.IsInf(target, 0) {
			return nil, fmt.Errorf("spec.goals[%d].target: %q is not a decimal number", i, g.Target)
		}
		spec := external.GoalSpec{Name: g.Name, Metric: g.Metric, Target: target, Deadline: g.Deadline,
			BaselineDate: g.BaselineDate, BreakdownValue: g.BreakdownValue, Description: g.Description}
		if s := g.Segment; s != nil {
			spec.Segment = &external.GoalSegment{Levels: s.Levels, CountryCodes: s.CountryCodes, Interests: s.Interests, Roles: s.Roles}
		}
		out = append(out, spec)
	}
	return out, nil
}

// namedGoals picks the goals specs names out of listed, in the spec's
// order; ok is false when one is missing or is no longer the resource's
// (the insights service lost or replaced it), so that they are synced
// again.
func namedGoals(listed []external.GoalProgress, specs []external.GoalSpec) ([]external.GoalProgress, bool) {
	byName := map[string]external.GoalProgress{}
	for _, g := range listed {
		byName[g.Name] = g
	}
	out := make([]external.GoalProgress, 0, len(specs))
	for _, s := range specs {
		g, ok := byName[s.Name]
		if !ok || !g.FromResource || g.State == "archived" || g.Target != s.Target {
			return nil, false
		}
		out = append(out, g)
	}
	return out, true
}

// goalStatuses are the status entries of the goals, numbers rounded.
func goalStatuses(goals []external.GoalProgress) []kinshipv1alpha1.GoalStatus {
	out := make([]kinshipv1alpha1.GoalStatus, 0, len(goals))
	for _, g := range goals {
		gs := kinshipv1alpha1.GoalStatus{
			Name: g.Name, Status: goalState(g.State), Message: g.Message, AsOf: g.AsOf,
			Current: decimal(g.Current), Target: decimal(g.Target), Progress: decimal(g.Progress),
		}
		if g.HasForecast {
			gs.Forecast = decimal(g.Forecast)
		}
		out = append(out, gs)
	}
	return out
}

func goalState(s external.GoalState) kinshipv1alpha1.GoalState {
	switch st := kinshipv1alpha1.GoalState(s); st {
	case kinshipv1alpha1.GoalOnTrack, kinshipv1alpha1.GoalAtRisk, kinshipv1alpha1.GoalOffTrack, kinshipv1alpha1.GoalAchieved, kinshipv1alpha1.GoalMissed:
		return st
	}
	return kinshipv1alpha1.GoalUnknown
}

// decimal writes v with at most three decimals and no exponent.
func decimal(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// withTransitions gives each goal of next the time its status last
// changed: prev's when the status is the same, now otherwise.
func withTransitions(prev, next []kinshipv1alpha1.GoalStatus, now metav1.Time) []kinshipv1alpha1.GoalStatus {
	old := map[string]kinshipv1alpha1.GoalStatus{}
	for _, g := range prev {
		old[g.Name] = g
	}
	out := make([]kinshipv1alpha1.GoalStatus, len(next))
	for i, g := range next {
		g.LastTransitionTime = now
		if o, ok := old[g.Name]; ok && o.Status == g.Status {
			g.LastTransitionTime = o.LastTransitionTime
		}
		out[i] = g
	}
	return out
}
