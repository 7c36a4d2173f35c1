package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// partConditions are the conditions the steps set, in the order they are
// reported; Ready and Degraded are derived from them. GoalsSynced is
// reported after them and counts toward neither: the instance is ready
// whether or not its goals could be synced. So does JourneysSynced.
func partConditions() []string {
	return []string{
		kinshipv1alpha1.ConditionTopicsReady,
		kinshipv1alpha1.ConditionTemporalNamespaceReady,
		kinshipv1alpha1.ConditionDatabaseReady,
		kinshipv1alpha1.ConditionWorkloadsReady,
	}
}

// statusBuilder collects what the steps of one reconcile found.
type statusBuilder struct {
	c          *kinshipv1alpha1.Community
	conds      map[string]metav1.Condition
	failures   []metav1.Condition // in the order they happened
	components []kinshipv1alpha1.ComponentStatus
	goals      *goalsOutcome // nil: status.goals stays as it is
	// journeys is nil when status.journeys stays as it is;
	// clearJourneys drops the JourneysSynced condition (nothing named).
	journeys      *journeysOutcome
	clearJourneys bool
	deleting      bool
	now           func() time.Time
}

func newStatusBuilder(c *kinshipv1alpha1.Community) *statusBuilder {
	return &statusBuilder{c: c, conds: map[string]metav1.Condition{}, now: time.Now}
}

func (s *statusBuilder) set(condType string, status metav1.ConditionStatus, reason, message string) metav1.Condition {
	cond := metav1.Condition{Type: condType, Status: status, Reason: reason, Message: message, ObservedGeneration: s.c.Generation}
	s.conds[condType] = cond
	return cond
}

// ok marks a part as provisioned.
func (s *statusBuilder) ok(condType, reason, message string) {
	s.set(condType, metav1.ConditionTrue, reason, message)
}

// waiting marks a part as not there yet, with nothing failing.
func (s *statusBuilder) waiting(condType, reason, message string) {
	s.set(condType, metav1.ConditionFalse, reason, message)
}

// fail marks a part as failing; the Community is then Degraded and the
// reconcile is retried with backoff.
func (s *statusBuilder) fail(condType, reason string, err error) {
	s.failures = append(s.failures, s.set(condType, metav1.ConditionFalse, reason, err.Error()))
}

func (s *statusBuilder) failed() bool { return len(s.failures) > 0 }

func (s *statusBuilder) degradedReason() string {
	if len(s.failures) == 0 {
		return ""
	}
	return s.failures[0].Reason
}

// build returns the status to write, starting from the current one so that
// conditions keep their transition times and parts this reconcile did not
// look at keep their state.
func (s *statusBuilder) build(cur kinshipv1alpha1.CommunityStatus) kinshipv1alpha1.CommunityStatus {
	c := s.c
	out := *cur.DeepCopy()
	out.ObservedGeneration = c.Generation
	out.Namespace = resources.Namespace(c)
	out.Topics = resources.TopicNames(c)
	out.TemporalNamespace = resources.TemporalNamespace(c)
	out.Database = resources.DatabaseName(c)
	out.Endpoint = resources.Endpoint(c)
	if s.components != nil {
		out.Components = s.components
	}
	for _, t := range append(partConditions(), kinshipv1alpha1.ConditionGoalsSynced, kinshipv1alpha1.ConditionJourneysSynced) {
		if cond, ok := s.conds[t]; ok {
			meta.SetStatusCondition(&out.Conditions, cond)
		}
	}
	if s.clearJourneys {
		meta.RemoveStatusCondition(&out.Conditions, kinshipv1alpha1.ConditionJourneysSynced)
	}
	if j := s.journeys; j != nil {
		out.Journeys = j.journeys
		if len(out.Journeys) == 0 {
			out.Journeys = nil
		}
	}
	if g := s.goals; g != nil {
		out.Goals = withTransitions(cur.Goals, g.goals, metav1.NewTime(s.now().UTC().Truncate(time.Second)))
		if len(out.Goals) == 0 {
			out.Goals = nil
		}
		out.GoalsOnTrack = g.onTrack
	}

	var notReady []string
	for _, t := range partConditions() {
		if !meta.IsStatusConditionTrue(out.Conditions, t) {
			notReady = append(notReady, t)
		}
	}
	ready := metav1.Condition{Type: kinshipv1alpha1.ConditionReady, ObservedGeneration: c.Generation}
	switch {
	case s.deleting:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, "Deleting", "the community is being deleted"
	case c.Spec.Suspend:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, "Suspended", "every component is scaled to zero"
	case len(notReady) > 0:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, "NotReady", "waiting for "+strings.Join(notReady, ", ")
	default:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionTrue, "Ready", "the instance is provisioned and every component is ready"
	}
	meta.SetStatusCondition(&out.Conditions, ready)

	degraded := metav1.Condition{Type: kinshipv1alpha1.ConditionDegraded, ObservedGeneration: c.Generation,
		Status: metav1.ConditionFalse, Reason: "AsExpected", Message: "nothing is failing"}
	if len(s.failures) > 0 {
		f := s.failures[0]
		degraded.Status, degraded.Reason, degraded.Message = metav1.ConditionTrue, f.Reason, f.Type+": "+f.Message
		if len(s.failures) > 1 {
			degraded.Message += fmt.Sprintf(" (and %d more failing)", len(s.failures)-1)
		}
	}
	meta.SetStatusCondition(&out.Conditions, degraded)
	out.Conditions = ordered(out.Conditions)

	switch {
	case s.deleting:
		out.Phase = kinshipv1alpha1.PhaseDeleting
	case len(s.failures) > 0:
		out.Phase = kinshipv1alpha1.PhaseDegraded
	case c.Spec.Suspend:
		out.Phase = kinshipv1alpha1.PhaseSuspended
	case ready.Status == metav1.ConditionTrue:
		out.Phase = kinshipv1alpha1.PhaseReady
	default:
		out.Phase = kinshipv1alpha1.PhaseProvisioning
	}
	return out
}

// ordered sorts conditions into the documented order, so that a status
// built twice is the same.
func ordered(conds []metav1.Condition) []metav1.Condition {
	order := append([]string{kinshipv1alpha1.ConditionReady}, partConditions()...)
	order = append(order, kinshipv1alpha1.ConditionGoalsSynced, kinshipv1alpha1.ConditionJourneysSynced, kinshipv1alpha1.ConditionDegraded)
	out := make([]metav1.Condition, 0, len(conds))
	for _, t := range order {
		if cond := meta.FindStatusCondition(conds, t); cond != nil {
			out = append(out, *cond)
		}
	}
	return out
}

// writeStatus writes the built status when it differs from the one the
// API server has, and records an Event for every condition that changed.
func (r *CommunityReconciler) writeStatus(ctx context.Context, c *kinshipv1alpha1.Community, s *statusBuilder) error {
	cur, err := r.currentStatus(ctx, c)
	if err != nil {
		return err
	}
	next := s.build(cur)
	if equality.Semantic.DeepEqual(cur, next) {
		return nil
	}
	orig := c.DeepCopy()
	orig.Status = cur // the patch changes what the API server has
	c.Status = next
	if err := r.Client.Status().Patch(ctx, c, client.MergeFrom(orig)); err != nil {
		r.statuses.forget(c.Name) // it may or may not have been written
		return fmt.Errorf("write status of community %s: %w", c.Name, err)
	}
	r.statuses.remember(c) // as the API server returned it
	r.recordTransitions(c, cur.Conditions, next.Conditions)
	return nil
}

// currentStatus returns the Community's status as the API server has it.
//
// The cached Community may not show the operator's own last status write
// yet: status changes do not wake the controller, so nothing waits for the
// cache to catch up, and the Deployments' informer can deliver the event
// that triggers the next reconcile before the Communities' informer has
// seen that write. A status built on such a stale copy would compare equal
// to it and never be written — a Community reported NotReady although every
// replica is ready, until some unrelated change. So the cached status is
// used only when it is the one last written or read; otherwise (right after
// a write, or the first time after the operator starts) it is read from
// the API server. The operator is the only writer of the status.
func (r *CommunityReconciler) currentStatus(ctx context.Context, c *kinshipv1alpha1.Community) (kinshipv1alpha1.CommunityStatus, error) {
	if known, ok := r.statuses.get(c); ok && equality.Semantic.DeepEqual(known, c.Status) {
		return c.Status, nil
	}
	var live kinshipv1alpha1.Community
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(c), &live); err != nil {
		return kinshipv1alpha1.CommunityStatus{}, fmt.Errorf("read status of community %s: %w", c.Name, err)
	}
	if live.UID != c.UID {
		return kinshipv1alpha1.CommunityStatus{}, fmt.Errorf("community %s was deleted and created again: %w", c.Name, errRetry)
	}
	r.statuses.remember(&live)
	return live.Status, nil
}

// knownStatuses holds, per Community, the status the API server was last
// seen to have: written by this operator or read from the API server.
type knownStatuses struct {
	mu sync.Mutex
	m  map[string]knownStatus // by Community name
}

type knownStatus struct {
	uid    types.UID
	status kinshipv1alpha1.CommunityStatus
}

func (k *knownStatuses) get(c *kinshipv1alpha1.Community) (kinshipv1alpha1.CommunityStatus, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.m[c.Name]
	if !ok || s.uid != c.UID {
		return kinshipv1alpha1.CommunityStatus{}, false
	}
	return s.status, true
}

func (k *knownStatuses) remember(c *kinshipv1alpha1.Community) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]knownStatus{}
	}
	k.m[c.Name] = knownStatus{uid: c.UID, status: *c.Status.DeepCopy()}
}

func (k *knownStatuses) forget(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, name)
}

// recordTransitions records an Event for each condition whose status or
// reason changed.
func (r *CommunityReconciler) recordTransitions(c *kinshipv1alpha1.Community, prev, next []metav1.Condition) {
	for _, cond := range next {
		old := meta.FindStatusCondition(prev, cond.Type)
		if old != nil && old.Status == cond.Status && old.Reason == cond.Reason {
			continue
		}
		good := cond.Status == metav1.ConditionTrue
		switch cond.Type {
		case kinshipv1alpha1.ConditionDegraded:
			good = !good
		case kinshipv1alpha1.ConditionGoalsSynced, kinshipv1alpha1.ConditionJourneysSynced:
			good = cond.Status != metav1.ConditionFalse // waiting for the insights service or the worker is no warning
		}
		if old == nil && good && cond.Type == kinshipv1alpha1.ConditionDegraded {
			continue // "not degraded" from the start is no news
		}
		eventType := corev1.EventTypeNormal
		if !good {
			eventType = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(c, nil, eventType, cond.Reason, "Reconcile", "%s is %s: %s", cond.Type, cond.Status, cond.Message)
	}
}
