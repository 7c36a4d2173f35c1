package onboarding

import (
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

func TestGraphValidationNamesTheStepAndTheProblem(t *testing.T) {
	cases := []struct {
		name, doc, field, says string
	}{
		{"no steps", `{"steps": []}`, "steps", "at least one"},
		{"unknown kind", `{"steps": [{"id": "a", "kind": "dance"}]}`, "steps[a].kind", `"dance" is not a step kind`},
		{"id twice", `{"steps": [{"id": "a", "kind": "tag", "tag": "x"}, {"id": "a", "kind": "end"}]}`, "steps[1].id", "appears twice"},
		{"reserved id", `{"steps": [{"id": "done", "kind": "end"}]}`, "steps[done].id", "kept for the journey"},
		{"bad id", `{"steps": [{"id": "Hello There", "kind": "end"}]}`, "steps[0].id", "lower-case"},
		{"setting the kind does not use", `{"steps": [{"id": "a", "kind": "end", "template": "x"}]}`, "steps[a].template", "does not use template"},
		{"send without template", `{"steps": [{"id": "a", "kind": "send"}, {"id": "b", "kind": "end"}]}`, "steps[a].template", "needs template"},
		{"wait without length", `{"steps": [{"id": "a", "kind": "wait"}, {"id": "b", "kind": "end"}]}`, "steps[a].for", "needs for"},
		{"wait both ways", `{"steps": [{"id": "a", "kind": "wait", "for": "1h", "until": "09:00"}, {"id": "b", "kind": "end"}]}`, "steps[a].until", "not both"},
		{"time of day", `{"steps": [{"id": "a", "kind": "wait", "until": "25:00"}, {"id": "b", "kind": "end"}]}`, "steps[a].until", "00:00 to 23:59"},
		{"wait too long", `{"steps": [{"id": "a", "kind": "wait", "for": "9000h"}, {"id": "b", "kind": "end"}]}`, "steps[a].for", "at most"},
		{"unknown signal", `{"steps": [{"id": "a", "kind": "wait-for", "signal": "dinner", "timeout": "1h"}, {"id": "b", "kind": "end"}]}`, "steps[a].signal", "not something a journey can wait for"},
		{"wait-for without timeout", `{"steps": [{"id": "a", "kind": "wait-for", "signal": "checked-in"}, {"id": "b", "kind": "end"}]}`, "steps[a].timeout", "needs timeout"},
		{"branch without else", `{"steps": [{"id": "a", "kind": "branch", "if": {"attribute": "rsvped"}, "then": "b"}, {"id": "b", "kind": "end"}]}`, "steps[a].else", "needs else"},
		{"unknown attribute", `{"steps": [{"id": "a", "kind": "branch", "if": {"attribute": "shoe-size", "in": ["9"]}, "then": "b", "else": "b"}, {"id": "b", "kind": "end"}]}`, "steps[a].if.attribute", "not an attribute"},
		{"flag with values", `{"steps": [{"id": "a", "kind": "branch", "if": {"attribute": "attended", "in": ["yes"]}, "then": "b", "else": "b"}, {"id": "b", "kind": "end"}]}`, "steps[a].if.in", "takes no values"},
		{"attribute without values", `{"steps": [{"id": "a", "kind": "branch", "if": {"attribute": "level"}, "then": "b", "else": "b"}, {"id": "b", "kind": "end"}]}`, "steps[a].if.in", "1 to 20 values"},
		{"activity type", `{"steps": [{"id": "a", "kind": "record-activity", "activity": "Did Stuff"}, {"id": "b", "kind": "end"}]}`, "steps[a].activity", "activity type"},
		{"next that does not exist", `{"steps": [{"id": "a", "kind": "tag", "tag": "x", "next": "zz"}, {"id": "b", "kind": "end"}]}`, "steps[a].next", `names step "zz"`},
		{"start that does not exist", `{"start": "zz", "steps": [{"id": "a", "kind": "end"}]}`, "start", `names step "zz"`},
		{"last step going nowhere", `{"steps": [{"id": "a", "kind": "tag", "tag": "x"}]}`, "steps[a].next", "the last step must be an end step"},
		{"unreachable", `{"steps": [{"id": "a", "kind": "end"}, {"id": "b", "kind": "end"}]}`, "steps[b]", "cannot be reached"},
		{"loop without a wait", `{"steps": [{"id": "a", "kind": "send", "template": "t"}, {"id": "b", "kind": "tag", "tag": "x", "next": "a"}]}`, "steps[a]", "a → b → a never waits"},
		{"branch loop without a wait", `{"steps": [{"id": "a", "kind": "branch", "if": {"attribute": "rsvped"}, "then": "b", "else": "a"}, {"id": "b", "kind": "end"}]}`, "steps[a]", "never waits"},
		{"locale", `{"locales": ["german"], "steps": [{"id": "a", "kind": "end"}]}`, "locales[0]", "BCP 47"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := ParseGraph(strings.NewReader(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range validate.FieldErrors(g.Validate()) {
				got = append(got, f.Field+": "+f.Reason)
				if f.Field == c.field && strings.Contains(f.Reason, c.says) {
					return
				}
			}
			t.Errorf("problems %q, want %s: …%s…", got, c.field, c.says)
		})
	}
}

func TestAGraphMayLoopWhenTheLoopWaits(t *testing.T) {
	g, err := ParseGraph(strings.NewReader(`{"steps": [
	  {"id": "nudge", "kind": "send", "template": "t"},
	  {"id": "wait", "kind": "wait-for", "signal": "checked-in", "timeout": "168h", "next": "end", "on_timeout": "nudge"},
	  {"id": "end", "kind": "end"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Validate(); err != nil {
		t.Errorf("a loop through a wait: %v", err)
	}
	if _, err := ParseGraph(strings.NewReader(`{"steps": [], "colour": "red"}`)); err == nil {
		t.Error("an unknown setting was read")
	}
}

func TestFixedDefinitionsBecomeEquivalentGraphs(t *testing.T) {
	if err := DefaultGraph().Validate(); err != nil {
		t.Fatalf("the default graph: %v", err)
	}
	g := FromLinear(Definition{Steps: []Step{
		{Type: StepWelcome},
		{Type: StepCompleteProfile, Reminders: []Duration{Duration(24 * time.Hour)}, Wait: Duration(72 * time.Hour)},
		{Type: StepSuggestEvent, Limit: 5},
	}})
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	ids := strings.Join(g.IDs(), " ")
	if ids != "welcome complete-profile complete-profile-reminder-1 complete-profile-2 suggest-event onboarded" {
		t.Errorf("steps %s", ids)
	}
	wait := g.Steps[g.Index()["complete-profile-2"]]
	if wait.Timeout.Std() != 48*time.Hour || g.next(g.Index()["complete-profile"]) != "suggest-event" {
		t.Errorf("the second wait lasts %v and the profile leads to %q", wait.Timeout.Std(), g.next(g.Index()["complete-profile"]))
	}
	if s := g.Steps[g.Index()["suggest-event"]]; s.Limit != 5 {
		t.Errorf("suggestion limit %d", s.Limit)
	}
	// A document round-trips.
	again, err := ParseGraph(strings.NewReader(g.Document()))
	if err != nil || again.Document() != g.Document() {
		t.Errorf("round trip: %v\n%s", err, again.Document())
	}
}
