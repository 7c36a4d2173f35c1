package controller

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/external"
)

const (
	onboardingV1 = `{"steps": [{"id": "welcome", "kind": "send", "template": "welcome"}]}`
	onboardingV2 = `{"locales": ["en"], "steps": [{"id": "welcome", "kind": "send", "template": "welcome", "next": "wait"}, {"id": "wait", "kind": "wait", "for": "48h"}]}`
	programmeV1  = `{"reviewers": ["m-reviewer"], "approvals": 1}`
)

func raw(doc string) *runtime.RawExtension { return &runtime.RawExtension{Raw: []byte(doc)} }

// journeysOf returns the live status.journeys by kind.
func (f *fixture) journeysOf(t testing.TB) map[kinshipv1alpha1.JourneyKind]kinshipv1alpha1.JourneyStatus {
	t.Helper()
	out := map[kinshipv1alpha1.JourneyKind]kinshipv1alpha1.JourneyStatus{}
	for _, j := range f.get(t).Status.Journeys {
		out[j.Kind] = j
	}
	return out
}

// The operator publishes each definition spec.journeys names through the
// instance's worker once, and never again while the resource is
// unchanged; a changed definition becomes a new version, an organiser's
// version of a kind the resource names gives way to the resource's, and a
// kind the resource no longer names is left to the organisers.
func TestJourneyDefinitionsArePublishedOncePerChange(t *testing.T) {
	const name = "journeys"
	f := newFixture(t, name)
	f.community.Spec.Journeys = kinshipv1alpha1.JourneysSpec{Onboarding: raw(onboardingV1), Ambassador: raw(programmeV1)}
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionTrue, "Synced")

	for _, tc := range []struct {
		kind, doc string
	}{{external.KindOnboarding, onboardingV1}, {external.KindAmbassador, programmeV1}} {
		t.Run("published "+tc.kind, func(t *testing.T) {
			v, doc := env.journeys.Current(name, tc.kind)
			if v != 1 || !sameJSON(doc, tc.doc) || env.journeys.Versions(name, tc.kind) != 1 {
				t.Errorf("the worker's current %s is version %d of %d: %s", tc.kind, v, env.journeys.Versions(name, tc.kind), doc)
			}
			if got := f.journeysOf(t)[kinshipv1alpha1.JourneyKind(tc.kind)]; got.Version != 1 || got.Digest == "" {
				t.Errorf("status.journeys %s: %+v", tc.kind, got)
			}
		})
	}
	target := env.journeys.LastTarget(name)
	if target.URL != "http://worker.kinship-journeys.svc:8083" || target.Audience != "kinship-workload" || target.Community != name {
		t.Errorf("the operator called %+v, want the instance's worker with the workload audience", target)
	}
	eventually(t, 10*time.Second, func() error {
		if !contains(f.eventReasons(t), "JourneyDefinitionPublished") {
			return fmt.Errorf("no JourneyDefinitionPublished Event: %v", f.eventReasons(t))
		}
		return nil
	})

	// Unchanged, the resource is checked at every resync, and nothing is
	// saved again.
	gets, saves, _ := env.journeys.Calls(name, external.KindOnboarding)
	f.nudge(t)
	eventually(t, 20*time.Second, func() error {
		if now, _, _ := env.journeys.Calls(name, external.KindOnboarding); now < gets+2 {
			return fmt.Errorf("%d looks at the worker, %d before", now, gets)
		}
		return nil
	})
	if _, now, _ := env.journeys.Calls(name, external.KindOnboarding); now != saves || env.journeys.Versions(name, external.KindOnboarding) != 1 {
		t.Errorf("an unchanged resource saved again: %d saves (%d before), %d versions", now, saves, env.journeys.Versions(name, external.KindOnboarding))
	}

	// An organiser publishes their own onboarding journey: the resource
	// names the kind, so its version becomes current again — published
	// again, not saved as one more version.
	env.journeys.Publish(name, external.KindOnboarding, onboardingV2)
	eventually(t, 20*time.Second, func() error {
		if v, _ := env.journeys.Current(name, external.KindOnboarding); v != 1 {
			return fmt.Errorf("the worker's current onboarding version is %d", v)
		}
		return nil
	})
	if n := env.journeys.Versions(name, external.KindOnboarding); n != 2 {
		t.Errorf("%d onboarding versions, want the resource's and the organiser's", n)
	}

	// The resource changes: the new definition is one new version.
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Journeys.Onboarding = raw(onboardingV2) })
	eventually(t, 20*time.Second, func() error {
		v, doc := env.journeys.Current(name, external.KindOnboarding)
		if v != 3 || !sameJSON(doc, onboardingV2) {
			return fmt.Errorf("the worker's current onboarding is version %d: %s", v, doc)
		}
		if got := f.journeysOf(t)[kinshipv1alpha1.JourneyOnboarding]; got.Version != 3 {
			return fmt.Errorf("status.journeys onboarding: %+v", got)
		}
		return nil
	})
	f.waitCondition(t, kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionTrue, "Synced")
	if n := env.journeys.Versions(name, external.KindOnboarding); n != 3 {
		t.Errorf("%d onboarding versions after one change, want 3", n)
	}

	// The resource stops naming the programme: an organiser's programme
	// stands from then on.
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Journeys.Ambassador = nil })
	eventually(t, 20*time.Second, func() error {
		if got := f.journeysOf(t); len(got) != 1 || got[kinshipv1alpha1.JourneyOnboarding].Version != 3 {
			return fmt.Errorf("status.journeys: %+v", got)
		}
		return nil
	})
	organisers := env.journeys.Publish(name, external.KindAmbassador, `{"reviewers": ["m-organiser"]}`)
	_, _, publishes := env.journeys.Calls(name, external.KindAmbassador)
	f.nudge(t)
	time.Sleep(3 * testGoalsResync)
	if v, _ := env.journeys.Current(name, external.KindAmbassador); v != organisers {
		t.Errorf("the organisers' programme (version %d) was replaced by version %d", organisers, v)
	}
	if _, _, now := env.journeys.Calls(name, external.KindAmbassador); now != publishes {
		t.Errorf("a programme the resource no longer names was published again")
	}

	// Nothing named: no condition, no record.
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Journeys = kinshipv1alpha1.JourneysSpec{} })
	eventually(t, 20*time.Second, func() error {
		c := f.get(t)
		if cond := f.condition(t, kinshipv1alpha1.ConditionJourneysSynced); cond != nil || len(c.Status.Journeys) != 0 || c.Status.ObservedGeneration != c.Generation {
			return fmt.Errorf("JourneysSynced %+v, status.journeys %+v", cond, c.Status.Journeys)
		}
		return nil
	})
}

// A definition the worker already has as its current version is adopted:
// no new version is saved, and none is published.
func TestACurrentDefinitionIsAdoptedNotSavedAgain(t *testing.T) {
	const name = "adopted"
	have := env.journeys.Publish(name, external.KindAmbassador, programmeV1)
	f := newFixture(t, name)
	// The same programme, its settings in another order.
	f.community.Spec.Journeys.Ambassador = raw(`{"approvals": 1, "reviewers": ["m-reviewer"]}`)
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionTrue, "Synced")
	if got := f.journeysOf(t)[kinshipv1alpha1.JourneyAmbassador]; got.Version != have {
		t.Errorf("status.journeys ambassador %+v, want version %d", got, have)
	}
	if _, saves, publishes := env.journeys.Calls(name, external.KindAmbassador); saves != 0 || publishes != 0 {
		t.Errorf("%d saves and %d publications of a programme that was current already", saves, publishes)
	}
	if contains(f.eventReasons(t), "JourneyDefinitionPublished") {
		t.Error("an Event says a version was published")
	}
}

// A definition the worker refuses leaves JourneysSynced False with reason
// InvalidDefinition and the worker's message, naming the field and the
// step; the instance stays Ready and not Degraded, the refusal is not
// retried on a timer, and a fixed definition is published.
func TestARefusedDefinitionIsReportedWithTheStep(t *testing.T) {
	const name = "badjourney"
	env.journeys.SetRefusal(name, external.KindOnboarding, `steps[welcome].template: template "welcom" is not a template of the community`)
	f := newFixture(t, name)
	f.community.Spec.Journeys.Onboarding = raw(`{"steps": [{"id": "welcome", "kind": "send", "template": "welcom"}]}`)
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionFalse, "InvalidDefinition")
	cond := f.condition(t, kinshipv1alpha1.ConditionJourneysSynced)
	if !strings.Contains(cond.Message, `spec.journeys.onboarding: steps[welcome].template: template "welcom"`) {
		t.Errorf("JourneysSynced message %q does not name the field and the step", cond.Message)
	}
	if d := f.condition(t, kinshipv1alpha1.ConditionDegraded); d.Status != metav1.ConditionFalse {
		t.Errorf("a refused definition degrades the instance: %+v", d)
	}
	if v := env.journeys.Versions(name, external.KindOnboarding); v != 0 {
		t.Errorf("the worker holds %d versions", v)
	}
	eventually(t, 10*time.Second, func() error {
		if !contains(f.eventReasons(t), "InvalidDefinition") {
			return fmt.Errorf("no InvalidDefinition Event: %v", f.eventReasons(t))
		}
		return nil
	})
	// Not retried on a timer: only a new spec helps.
	_, saves, _ := env.journeys.Calls(name, external.KindOnboarding)
	time.Sleep(3 * testGoalsResync)
	if _, now, _ := env.journeys.Calls(name, external.KindOnboarding); now != saves {
		t.Errorf("a refused definition was sent %d more times while nothing changed", now-saves)
	}

	env.journeys.SetRefusal(name, external.KindOnboarding, "")
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Journeys.Onboarding = raw(onboardingV1) })
	f.waitCondition(t, kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionTrue, "Synced")
	if v, doc := env.journeys.Current(name, external.KindOnboarding); v != 1 || !sameJSON(doc, onboardingV1) {
		t.Errorf("the worker's current onboarding is version %d: %s", v, doc)
	}
}

// While the worker cannot be asked, JourneysSynced is Unknown and the
// definitions are tried again soon; once it answers they are published.
func TestJourneysWaitForAnUnreachableWorker(t *testing.T) {
	const name = "noworker"
	env.journeys.SetUnreachable(name, true)
	f := newFixture(t, name)
	f.community.Spec.Journeys.Onboarding = raw(onboardingV1)
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionUnknown, "WorkerUnavailable")
	if d := f.condition(t, kinshipv1alpha1.ConditionDegraded); d.Status != metav1.ConditionFalse {
		t.Errorf("an unreachable worker degrades the instance: %+v", d)
	}
	env.journeys.SetUnreachable(name, false)
	f.waitCondition(t, kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionTrue, "Synced")
	if v := env.journeys.Versions(name, external.KindOnboarding); v != 1 {
		t.Errorf("the worker holds %d versions, want 1", v)
	}
}

// A worker that lost its definitions (a new database) and numbered
// another document as the resource's version gets the resource's again,
// once: the version number alone does not pass for the document.
func TestJourneysComeBackToAWorkerThatLostThem(t *testing.T) {
	const name = "lostjourneys"
	f := newFixture(t, name)
	f.community.Spec.Journeys.Onboarding = raw(onboardingV2)
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionTrue, "Synced")
	if got := f.journeysOf(t)[kinshipv1alpha1.JourneyOnboarding]; got.Version != 1 || got.WorkerDigest == "" {
		t.Fatalf("status.journeys onboarding: %+v", got)
	}

	// The worker starts on an empty database and seeds its default as
	// version 1.
	env.journeys.Forget(name)
	env.journeys.Publish(name, external.KindOnboarding, onboardingV1)
	eventually(t, 20*time.Second, func() error {
		v, doc := env.journeys.Current(name, external.KindOnboarding)
		if v != 2 || !sameJSON(doc, onboardingV2) {
			return fmt.Errorf("the worker's current onboarding is version %d: %s", v, doc)
		}
		if got := f.journeysOf(t)[kinshipv1alpha1.JourneyOnboarding]; got.Version != 2 {
			return fmt.Errorf("status.journeys onboarding: %+v", got)
		}
		return nil
	})
	_, saves, _ := env.journeys.Calls(name, external.KindOnboarding)
	time.Sleep(3 * testGoalsResync)
	if _, now, _ := env.journeys.Calls(name, external.KindOnboarding); now != saves || env.journeys.Versions(name, external.KindOnboarding) != 2 {
		t.Errorf("saved %d more times once the worker held the resource's version again", now-saves)
	}
}
