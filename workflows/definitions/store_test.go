package definitions_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/definitions"
)

var pg *dbtest.Cluster

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m, &pg)) }

func organiser(community string) context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindUser, Subject: "u-org", Community: community,
		Roles: []auth.Role{auth.Organiser}}, auth.ScopeCommunity)
}

const twoSteps = `{"steps": [{"id": "hello", "kind": "send", "template": "onboarding-welcome"}, {"id": "finish", "kind": "end"}]}`
const threeSteps = `{"steps": [{"id": "hello", "kind": "send", "template": "onboarding-welcome"},
  {"id": "pause", "kind": "wait", "for": "24h"}, {"id": "bye", "kind": "end", "outcome": "onboarded"}]}`

func TestVersionsAreKeptPublishedAndAudited(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			d := dbtest.Open(t, engine, pg, audit.Migrations(), definitions.Migrations())
			log := audit.New(d)
			s := definitions.New(d, log)
			ctx := organiser("demo")

			// A document with a problem is refused naming the step; nothing is kept.
			_, err := s.Save(ctx, "demo", definitions.KindOnboarding, `{"steps": [{"id": "hello", "kind": "send"}]}`, true, 0)
			if fe := validate.FieldErrors(err); len(fe) == 0 || fe[0].Field != "steps[hello].template" {
				t.Fatalf("a send without a template: %v", err)
			}
			if _, err := s.Get(ctx, "demo", definitions.KindOnboarding, 0); !errors.Is(err, definitions.ErrNotFound) {
				t.Fatalf("a refused document left a version: %v", err)
			}

			v1, err := s.Save(ctx, "demo", definitions.KindOnboarding, twoSteps, true, 0)
			if err != nil || v1.Version != 1 || !v1.Current || v1.SavedBy != "u-org" || v1.SavedByKind != "user" {
				t.Fatalf("first save: %+v, %v", v1, err)
			}
			draft, err := s.Save(ctx, "demo", definitions.KindOnboarding, threeSteps, false, 1)
			if err != nil || draft.Version != 2 || draft.Published() {
				t.Fatalf("draft: %+v, %v", draft, err)
			}
			if cur, _ := s.Get(ctx, "demo", definitions.KindOnboarding, 0); cur.Version != 1 {
				t.Errorf("a draft became current: version %d", cur.Version)
			}
			if _, err := s.Save(ctx, "demo", definitions.KindOnboarding, twoSteps, false, 1); !errors.Is(err, definitions.ErrStale) {
				t.Errorf("a save from version 1 after version 2: %v, want ErrStale", err)
			}
			if _, err := s.Publish(ctx, "demo", definitions.KindOnboarding, 2); err != nil {
				t.Fatal(err)
			}
			if cur, _ := s.Get(ctx, "demo", definitions.KindOnboarding, 0); cur.Version != 2 || !strings.Contains(cur.Document, `"bye"`) {
				t.Errorf("after publishing the draft the current version is %d", cur.Version)
			}
			// Publishing an earlier version brings it back.
			if _, err := s.Publish(ctx, "demo", definitions.KindOnboarding, 1); err != nil {
				t.Fatal(err)
			}
			list, err := s.List(ctx, "demo", definitions.KindOnboarding, 0, 10)
			if err != nil || len(list) != 2 || list[0].Version != 2 || list[0].Current || !list[1].Current || list[0].Document != "" {
				t.Errorf("history %+v, %v", list, err)
			}
			if _, err := s.Publish(ctx, "demo", definitions.KindOnboarding, 9); !errors.Is(err, definitions.ErrNotFound) {
				t.Errorf("publishing a version that does not exist: %v", err)
			}

			// Another community sees none of it.
			if _, err := s.Get(organiser("other"), "other", definitions.KindOnboarding, 1); !errors.Is(err, definitions.ErrNotFound) {
				t.Errorf("another community read version 1: %v", err)
			}

			entries, err := log.List(ctx, "demo", "", 20)
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, e := range entries {
				actions = append(actions, e.Action+" "+e.TargetID)
			}
			for _, want := range []string{"journey_definition.saved onboarding/1", "journey_definition.published onboarding/1",
				"journey_definition.saved onboarding/2", "journey_definition.published onboarding/2"} {
				if !slices.Contains(actions, want) {
					t.Errorf("audit %v lacks %q", actions, want)
				}
			}
			if len(actions) != 5 {
				t.Errorf("audit %v: a refused or stale save left an entry", actions)
			}
		})
	}
}

func TestSeedsReachTheCommunityOnceAndLeaveEditsAlone(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			d := dbtest.Open(t, engine, pg, audit.Migrations(), definitions.Migrations())
			s := definitions.New(d, audit.New(d))
			worker := auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindWorkload, Subject: "kinship-worker",
				Roles: []auth.Role{auth.Workload}}, auth.ScopeCommunity)
			kind := definitions.KindAmbassador

			// Without a seed a community gets the default, once.
			for range 2 {
				if _, err := s.Seed(worker, "demo", kind, ""); err != nil {
					t.Fatal(err)
				}
			}
			v, err := s.Get(worker, "demo", kind, 0)
			if err != nil || v.Version != 1 || v.Source != definitions.SourceDefault {
				t.Fatalf("default: %+v, %v", v, err)
			}
			// A seed arrives; restarting with the same seed adds nothing.
			seed := `{"tiers": ["seed", "tree"], "capacity": [2, 4]}`
			for range 2 {
				if _, err := s.Seed(worker, "demo", kind, seed); err != nil {
					t.Fatal(err)
				}
			}
			v, _ = s.Get(worker, "demo", kind, 0)
			p, err := v.Programme()
			if v.Version != 2 || v.Source != definitions.SourceSeed || err != nil || p.Tiers[1] != "tree" || p.CheckIns != 12 {
				t.Fatalf("seeded: %+v %+v, %v", v, p, err)
			}
			// An organiser's edit stands across restarts with the same seed…
			if _, err := s.Save(organiser("demo"), "demo", kind, `{"tiers": ["a"], "capacity": [1]}`, true, 0); err != nil {
				t.Fatal(err)
			}
			if saved, _ := s.Seed(worker, "demo", kind, seed); saved {
				t.Error("an unchanged seed replaced the organiser's version")
			}
			// …until the seed itself changes.
			if saved, _ := s.Seed(worker, "demo", kind, `{"tiers": ["b"], "capacity": [1]}`); !saved {
				t.Error("a changed seed did not reach the community")
			}
			if _, err := s.Seed(worker, "demo", kind, `{"tiers": "x"}`); err == nil {
				t.Error("an invalid seed was kept")
			}
		})
	}
}

func TestParseNamesWhereADocumentGoesWrong(t *testing.T) {
	cases := []struct {
		name, kind, doc, field, says string
	}{
		{"not JSON", definitions.KindOnboarding, "{\n  \"steps\": [\n  oops", "document", "line 3"},
		{"unknown setting", definitions.KindOnboarding, `{"steps": [{"id": "a", "kind": "end", "colour": "red"}]}`, "document", "colour"},
		{"unknown kind", definitions.KindOnboarding, `{"steps": [{"id": "a", "kind": "dance"}]}`, "steps[a].kind", "not a step kind"},
		{"programme setting", definitions.KindAmbassador, `{"approvals": 0}`, "approvals", "between 1 and 10"},
		{"unknown programme setting", definitions.KindAmbassador, `{"tier": "x"}`, "document", "tier"},
		{"no such kind", "party", `{}`, "kind", "not a kind"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := definitions.Parse(c.kind, c.doc)
			fe := validate.FieldErrors(err)
			if len(fe) == 0 || fe[0].Field != c.field || !strings.Contains(fe[0].Reason, c.says) {
				t.Errorf("Parse = %v, want %s: …%s…", err, c.field, c.says)
			}
		})
	}
}

func TestDiffNamesStepsBySettingAndID(t *testing.T) {
	changes, err := definitions.Diff(definitions.Default(definitions.KindOnboarding), strings.Replace(
		definitions.Default(definitions.KindOnboarding), `"limit": 5`, `"limit": 5`, 1))
	if err != nil || len(changes) != 0 {
		t.Fatalf("a version against itself: %v, %v", changes, err)
	}
	before := `{"steps": [{"id": "a", "kind": "send", "template": "x"}, {"id": "b", "kind": "end"}]}`
	after := `{"steps": [{"id": "b", "kind": "end", "outcome": "onboarded"}, {"id": "c", "kind": "wait", "for": "1h"}, {"id": "a", "kind": "send", "template": "y"}]}`
	changes, err = definitions.Diff(before, after)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.Kind+" "+c.Path+" "+c.Before+" "+c.After)
	}
	want := []string{`changed steps[a].template "x" "y"`, `added steps[b].outcome  "onboarded"`, `added steps[c]  {"for":"1h","id":"c","kind":"wait"}`}
	if !slices.Equal(got, want) {
		t.Errorf("diff\n%q\nwant\n%q", got, want)
	}
}

// A seed saved by a workload (the operator's SaveDefinition) is a seed:
// recorded and audited as one, by the workload, and the seed a later
// Seed of the same document compares with, so the worker's journeys
// file holding the same document adds no version.
func TestSavedSeedsAreSeeds(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			d := dbtest.Open(t, engine, pg, audit.Migrations(), definitions.Migrations())
			log := audit.New(d)
			s := definitions.New(d, log)
			operator := auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindWorkload, Subject: "system:serviceaccount:kinship-system:kinship-operator",
				Roles: []auth.Role{auth.Workload}}, auth.ScopeCommunity)

			if _, err := s.SaveSeed(operator, "demo", definitions.KindOnboarding, `{"steps": [{"id": "hello", "kind": "send"}]}`, true, 0); len(validate.FieldErrors(err)) == 0 {
				t.Fatalf("a seed without a template: %v, want refused naming the step", err)
			}
			v, err := s.SaveSeed(operator, "demo", definitions.KindOnboarding, twoSteps, true, 0)
			if err != nil || v.Version != 1 || !v.Current || v.Source != definitions.SourceSeed || v.SavedByKind != "workload" ||
				v.SavedBy != "system:serviceaccount:kinship-system:kinship-operator" {
				t.Fatalf("saved seed: %+v, %v", v, err)
			}
			if got, err := s.Get(operator, "demo", definitions.KindOnboarding, 1); err != nil || got.Source != definitions.SourceSeed {
				t.Errorf("read again: %+v, %v", got, err)
			}
			if saved, err := s.Seed(operator, "demo", definitions.KindOnboarding, twoSteps); err != nil || saved {
				t.Errorf("seeding the same document again: saved %v, %v; want nothing new", saved, err)
			}
			entries, err := log.List(context.Background(), "demo", "", 20)
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, e := range entries {
				actions = append(actions, e.ActorKind+" "+e.Action+" "+e.TargetID)
			}
			slices.Sort(actions)
			if want := []string{"workload journey_definition.published onboarding/1", "workload journey_definition.seeded onboarding/1"}; !slices.Equal(actions, want) {
				t.Errorf("audit %v, want %v", actions, want)
			}
		})
	}
}
