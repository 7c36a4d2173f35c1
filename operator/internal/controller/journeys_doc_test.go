package controller

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// The documents spec.journeys names are sent as compact JSON with sorted
// keys, so that the same definition always has the same digest whatever
// its layout; a document over the worker's bound or that is no JSON
// object is refused naming the field, before any call.
func TestNamedDefinitions(t *testing.T) {
	big := `{"steps": [{"id": "a", "kind": "send", "template": "` + strings.Repeat("x", kinshipv1alpha1.MaxJourneyDocument) + `"}]}`
	for _, tc := range []struct {
		name      string
		spec      kinshipv1alpha1.JourneysSpec
		wantKinds []string
		wantDocs  []string
		wantErr   string
	}{
		{name: "nothing named"},
		{name: "both, onboarding first",
			spec:      kinshipv1alpha1.JourneysSpec{Ambassador: raw(`{"tiers": ["seed"], "approvals": 2}`), Onboarding: raw(`{ "steps" : [ {"kind": "send", "id": "hello"} ] }`)},
			wantKinds: []string{"onboarding", "ambassador"},
			wantDocs:  []string{`{"steps":[{"id":"hello","kind":"send"}]}`, `{"approvals":2,"tiers":["seed"]}`}},
		{name: "numbers and markup kept as written",
			spec:      kinshipv1alpha1.JourneysSpec{Ambassador: raw(`{"capacity": [1.50, 10000000000000000001], "announcement_template": "<b>"}`)},
			wantKinds: []string{"ambassador"},
			wantDocs:  []string{`{"announcement_template":"<b>","capacity":[1.50,10000000000000000001]}`}},
		{name: "empty raw is nothing named", spec: kinshipv1alpha1.JourneysSpec{Onboarding: &runtime.RawExtension{}}},
		{name: "not an object", spec: kinshipv1alpha1.JourneysSpec{Ambassador: raw(`["a"]`)}, wantErr: "spec.journeys.ambassador: must be a JSON object"},
		{name: "not JSON", spec: kinshipv1alpha1.JourneysSpec{Onboarding: raw(`{"steps":`)}, wantErr: "spec.journeys.onboarding: not JSON"},
		{name: "too big", spec: kinshipv1alpha1.JourneysSpec{Onboarding: raw(big)}, wantErr: "spec.journeys.onboarding: must be at most 256 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := namedDefinitions(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tc.wantKinds) {
				t.Fatalf("namedDefinitions = %+v, %v", got, err)
			}
			for i, d := range got {
				if d.kind != tc.wantKinds[i] || d.document != tc.wantDocs[i] || d.field != "spec.journeys."+d.kind || len(d.digest) != 64 {
					t.Errorf("definition %d: %+v", i, d)
				}
			}
		})
	}
}

// The same document in another layout has the same digest; another
// document has another.
func TestDefinitionDigestFollowsTheContent(t *testing.T) {
	a, _ := namedDefinitions(kinshipv1alpha1.JourneysSpec{Onboarding: raw(onboardingV1)})
	b, _ := namedDefinitions(kinshipv1alpha1.JourneysSpec{Onboarding: raw("{\n  \"steps\": [\n    {\"template\": \"welcome\", \"kind\": \"send\", \"id\": \"welcome\"}\n  ]\n}")})
	c, _ := namedDefinitions(kinshipv1alpha1.JourneysSpec{Onboarding: raw(onboardingV2)})
	if a[0].digest != b[0].digest {
		t.Error("the same definition in another layout has another digest")
	}
	if a[0].digest == c[0].digest {
		t.Error("two definitions share a digest")
	}
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{`{"a": 1, "b": [1, 2]}`, "{\n \"b\": [1, 2],\n \"a\": 1\n}", true},
		{`{"a": 1}`, `{"a": 1.0}`, false},
		{`{"a": [1, 2]}`, `{"a": [2, 1]}`, false},
		{`{"a": 1}`, `not json`, false},
	} {
		if got := sameJSON(tc.a, tc.b); got != tc.same {
			t.Errorf("sameJSON(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}

// The reconcile requeues at the sooner of the goals' and the journeys'
// delays, 0 meaning that one needs no timer.
func TestSooner(t *testing.T) {
	for _, tc := range []struct{ a, b, want time.Duration }{
		{0, 0, 0}, {0, 5 * time.Second, 5 * time.Second}, {5 * time.Second, 0, 5 * time.Second},
		{3 * time.Second, 5 * time.Second, 3 * time.Second}, {5 * time.Second, 3 * time.Second, 3 * time.Second},
	} {
		if got := sooner(tc.a, tc.b); got != tc.want {
			t.Errorf("sooner(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// A long message from the worker is shortened for the condition, never
// inside a character.
func TestClip(t *testing.T) {
	short := "steps[a].kind: unknown"
	if got := clip(short); got != short {
		t.Errorf("clip(%q) = %q", short, got)
	}
	long := strings.Repeat("é", maxConditionMessage)
	got := clip(long)
	if len(got) > maxConditionMessage+len("…") || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("clip gave %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}
