package controller

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/external"
)

// goalsOf returns the live status.goals by name and the on-track count.
func (f *fixture) goalsOf(t testing.TB) (map[string]kinshipv1alpha1.GoalStatus, *int32) {
	t.Helper()
	c := f.get(t)
	out := map[string]kinshipv1alpha1.GoalStatus{}
	for _, g := range c.Status.Goals {
		out[g.Name] = g
	}
	return out, c.Status.GoalsOnTrack
}

// The operator hands spec.goals to the community's insights service (as
// the resource's goals), reports where each stands in status.goals, and
// keeps it current: statuses that change with time are read again
// (without syncing again), goals the spec drops are archived there, and a
// Community with no goals left costs no further calls.
func TestGoalsReachTheInsightsServiceAndTheStatus(t *testing.T) {
	f := newFixture(t, "goals")
	f.community.Spec.Goals = []kinshipv1alpha1.Goal{
		{Name: "active-members", Metric: "members.active", Target: "500", Deadline: "2030-06-30"},
		{Name: "attendance", Metric: "events.attendance_rate", Target: "0.6",
			Segment: &kinshipv1alpha1.GoalSegment{Levels: []string{"Core"}}},
	}
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionTrue, "Synced")

	goals, onTrack := f.goalsOf(t)
	if len(goals) != 2 || goals["active-members"].Status != kinshipv1alpha1.GoalOnTrack || goals["attendance"].Target != "0.6" ||
		goals["active-members"].LastTransitionTime.Time.IsZero() || onTrack == nil || *onTrack != 2 {
		t.Fatalf("status goals %+v, on track %v", goals, onTrack)
	}
	if got := env.insights.Goals("goals"); len(got) != 2 || !got["active-members"] || !got["attendance"] {
		t.Errorf("the insights service holds %v, want both goals as the resource's", got)
	}
	target := env.insights.LastTarget("goals")
	if target.URL != "http://insights.kinship-goals.svc:8087" || target.Audience != "kinship-workload" {
		t.Errorf("the operator called %+v, want the instance's insights service with the workload audience", target)
	}
	if cond := f.condition(t, kinshipv1alpha1.ConditionGoalsSynced); cond.Message != "2 of 2 goals on track or achieved" {
		t.Errorf("GoalsSynced: %+v", cond)
	}

	// Time passes: a goal falls behind. The status follows at the next
	// resync, read with ListGoals alone.
	syncs, _ := env.insights.Calls("goals")
	env.insights.SetProgress("goals", external.GoalProgress{Name: "active-members", State: "at_risk", Message: "forecast 430 of 500 by 2030-06-30",
		Current: 312, Progress: 0.6241, Forecast: 430.04, HasForecast: true, AsOf: "2026-05-05"})
	eventually(t, 20*time.Second, func() error {
		goals, onTrack := f.goalsOf(t)
		g := goals["active-members"]
		if g.Status != kinshipv1alpha1.GoalAtRisk || onTrack == nil || *onTrack != 1 {
			return fmt.Errorf("status goals %+v, on track %v", goals, onTrack)
		}
		if g.Current != "312" || g.Progress != "0.624" || g.Forecast != "430.04" || g.AsOf != "2026-05-05" || g.Message == "" {
			return fmt.Errorf("numbers: %+v", g)
		}
		return nil
	})
	if now, _ := env.insights.Calls("goals"); now != syncs {
		t.Errorf("a refresh synced the goals again (%d syncs, %d before): it should only read them", now, syncs)
	}

	// The insights service lost its goals (a new database): they are sent
	// again at the next look.
	env.insights.Forget("goals")
	eventually(t, 20*time.Second, func() error {
		if got := env.insights.Goals("goals"); len(got) != 2 {
			return fmt.Errorf("the insights service holds %v", got)
		}
		return nil
	})

	// The spec drops a goal: it is archived there and leaves the status.
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Goals = c.Spec.Goals[1:] })
	eventually(t, 20*time.Second, func() error {
		goals, _ := f.goalsOf(t)
		if len(goals) != 1 || goals["attendance"].Name == "" {
			return fmt.Errorf("status goals %+v", goals)
		}
		if got := env.insights.Goals("goals"); len(got) != 1 || !got["attendance"] {
			return fmt.Errorf("the insights service holds %v", got)
		}
		return nil
	})

	// No goals left: the status says so, and nothing calls the insights
	// service any more.
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Goals = nil })
	eventually(t, 20*time.Second, func() error {
		c := f.get(t)
		cond := f.condition(t, kinshipv1alpha1.ConditionGoalsSynced)
		if len(c.Status.Goals) != 0 || c.Status.GoalsOnTrack != nil || cond.Message != "no goals" || cond.ObservedGeneration != c.Generation {
			return fmt.Errorf("status goals %+v (%v), GoalsSynced %+v", c.Status.Goals, c.Status.GoalsOnTrack, cond)
		}
		return nil
	})
	if got := env.insights.Goals("goals"); len(got) != 0 {
		t.Errorf("the insights service still holds %v", got)
	}
	// A reconcile already under way when the status said so may still read
	// the Community from a cache one update behind, and sync the empty set
	// once more; wait for the calls to settle for a resync period, then
	// none may follow.
	var lists int
	eventually(t, 20*time.Second, func() error {
		syncs, lists = env.insights.Calls("goals")
		time.Sleep(testGoalsResync)
		if s, l := env.insights.Calls("goals"); s != syncs || l != lists {
			return fmt.Errorf("still calling the insights service: %d syncs and %d lists, %d and %d a resync before", s, l, syncs, lists)
		}
		return nil
	})
	time.Sleep(3 * testGoalsResync)
	if s, l := env.insights.Calls("goals"); s != syncs || l != lists {
		t.Errorf("a Community without goals still calls the insights service: %d syncs and %d lists, %d and %d before", s, l, syncs, lists)
	}
}

// Goals the insights service refuses leave GoalsSynced False with its
// message, which names the goal's field; the instance stays Ready, and a
// fixed spec syncs them.
func TestRefusedGoalsAreReportedWithTheField(t *testing.T) {
	f := newFixture(t, "badgoals")
	f.community.Spec.Goals = []kinshipv1alpha1.Goal{{Name: "growth", Metric: "members.grwoth", Target: "10"}}
	env.insights.SetRefusal("badgoals", "goals[0].metric: \"members.grwoth\" is not a metric of the catalogue")
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionFalse, "GoalsRefused")
	cond := f.condition(t, kinshipv1alpha1.ConditionGoalsSynced)
	if !strings.Contains(cond.Message, "spec.goals: goals[0].metric") {
		t.Errorf("GoalsSynced message %q does not name the field", cond.Message)
	}
	if d := f.condition(t, kinshipv1alpha1.ConditionDegraded); d.Status != metav1.ConditionFalse {
		t.Errorf("refused goals degrade the instance: %+v", d)
	}
	eventually(t, 10*time.Second, func() error {
		if !contains(f.eventReasons(t), "GoalsRefused") {
			return fmt.Errorf("no GoalsRefused Event: %v", f.eventReasons(t))
		}
		return nil
	})
	// A refusal is not retried on a timer: only a new spec helps.
	syncs, _ := env.insights.Calls("badgoals")
	time.Sleep(3 * testGoalsResync)
	if now, _ := env.insights.Calls("badgoals"); now != syncs {
		t.Errorf("refused goals were sent again %d times without a change", now-syncs)
	}

	env.insights.SetRefusal("badgoals", "")
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Goals[0].Metric = "members.newcomers" })
	f.waitCondition(t, kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionTrue, "Synced")
}

// While the insights service cannot be reached the rest of the instance
// is reconciled as usual: Ready, with GoalsSynced Unknown; goals are
// tried again soon and synced once it answers.
func TestUnreachableInsightsDoNotHoldTheInstanceBack(t *testing.T) {
	f := newFixture(t, "nogoals")
	f.community.Spec.Goals = []kinshipv1alpha1.Goal{{Name: "growth", Metric: "members.newcomers", Target: "40"}}
	env.insights.SetUnreachable("nogoals", true)
	t.Cleanup(func() { env.insights.SetUnreachable("nogoals", false) })
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionUnknown, "InsightsUnavailable")
	if c := f.get(t); c.Status.Phase != kinshipv1alpha1.PhaseReady {
		t.Errorf("phase %s while only the goals wait", c.Status.Phase)
	}
	env.insights.SetUnreachable("nogoals", false)
	f.waitCondition(t, kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionTrue, "Synced")

	// Suspended: the insights service is scaled to zero and not called.
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Suspend = true })
	f.waitCondition(t, kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionUnknown, "Suspended")
	syncs, lists := env.insights.Calls("nogoals")
	time.Sleep(3 * testGoalsResync)
	if s, l := env.insights.Calls("nogoals"); s != syncs || l != lists {
		t.Errorf("a suspended Community's insights service was called: %d syncs and %d lists, %d and %d before", s, l, syncs, lists)
	}
	if goals, _ := f.goalsOf(t); len(goals) != 1 {
		t.Errorf("suspending drops the last known goals: %+v", goals)
	}
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Suspend = false; c.Spec.Console.Enabled = ptr.To(true) })
	f.waitCondition(t, kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionTrue, "Synced")
}
