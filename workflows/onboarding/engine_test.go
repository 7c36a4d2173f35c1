package onboarding

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"
)

// runGraph runs version of g for member m1.
func (je *journeyEnv) runGraph(g Graph, version int) {
	je.env.ExecuteWorkflow(WorkflowName, Input{Community: "demo", MemberID: "m1", Journey: &g, Version: version})
}

func mustGraph(t *testing.T, doc string) Graph {
	t.Helper()
	g, err := ParseGraph(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	return g
}

// everyKind uses every step kind once: it welcomes, waits a day, waits
// until 09:00, waits for the profile (which comes), branches on the
// journey and on the member, suggests events, assigns a buddy, tags,
// records an activity, tells the organisers and ends onboarded.
const everyKind = `{
  "locales": ["de"],
  "steps": [
    {"id": "hello", "kind": "send", "template": "onboarding-welcome"},
    {"id": "breathe", "kind": "wait", "for": "24h"},
    {"id": "morning", "kind": "wait", "until": "09:00"},
    {"id": "profile", "kind": "wait-for", "signal": "profile-completed", "timeout": "72h", "on_timeout": "lapsed"},
    {"id": "profiled", "kind": "branch", "if": {"attribute": "profile-completed"}, "then": "german", "else": "lapsed"},
    {"id": "german", "kind": "branch", "if": {"attribute": "locale", "in": ["de"]}, "then": "suggest", "else": "lapsed"},
    {"id": "suggest", "kind": "suggest-events", "limit": 2},
    {"id": "buddy", "kind": "assign-buddy"},
    {"id": "mark", "kind": "tag", "tag": "warm-welcome"},
    {"id": "count", "kind": "record-activity", "activity": "completed_task"},
    {"id": "tell", "kind": "notify-organiser", "next": "done-well"},
    {"id": "lapsed", "kind": "end", "outcome": "lapsed"},
    {"id": "done-well", "kind": "end", "outcome": "onboarded"}
  ]}`

func TestAVersionedJourneyRunsEveryStepKind(t *testing.T) {
	je := newJourneyEnv(t)
	je.conditions = func(c Condition) ConditionResult {
		return ConditionResult{Holds: c.Attribute == AttrLocale && slices.Equal(c.In, []string{"de"})}
	}
	// The journey starts at 08:00 UTC; the day's wait ends at 08:00 the
	// next day, the 09:00 wait an hour later.
	start := je.env.Now()
	je.env.SetStartTime(time.Date(start.Year(), start.Month(), start.Day(), 8, 0, 0, 0, time.UTC))
	je.start = je.env.Now()
	var waiting State
	je.at(25*time.Hour+30*time.Minute, func() {
		waiting = je.state()
		je.signal(SignalProfileCompleted, nil)
	})
	je.runGraph(mustGraph(t, everyKind), 4)

	if r := je.result(); r.Outcome != OutcomeOnboarded {
		t.Fatalf("outcome %q", r.Outcome)
	}
	want := []string{"hello", "suggest", "buddy", "notify:tell"}
	if got := je.keys(); !slices.Equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
	if waiting.Step != "profile" || waiting.Version != 3 || waiting.DefinitionVersion != 4 || !waiting.NextDeadline.Equal(je.start.Add(25*time.Hour+72*time.Hour)) {
		t.Errorf("waiting for the profile: step %q version %d/%d, deadline %v", waiting.Step, waiting.Version, waiting.DefinitionVersion, waiting.NextDeadline)
	}
	final := je.state()
	outcomes := ended(final)
	for step, outcome := range map[string]string{"hello": StepCompleted, "breathe": StepCompleted, "morning": StepCompleted, "profile": StepCompleted,
		"profiled": "then", "german": "then", "suggest": StepCompleted, "buddy": StepCompleted, "mark": StepCompleted, "count": StepCompleted,
		"tell": StepCompleted, "done-well": OutcomeOnboarded} {
		if outcomes[step] != outcome {
			t.Errorf("step %s ended %q, want %q", step, outcomes[step], outcome)
		}
	}
	if _, ran := outcomes["lapsed"]; ran {
		t.Error("the lapsed end ran too")
	}
	if !slices.Equal(final.Tags, []string{"warm-welcome"}) || final.BuddyID != "amb1" || !slices.Equal(final.SuggestedEventIDs, []string{"e1"}) {
		t.Errorf("final state %+v", final)
	}
	if len(je.activities) != 1 || je.activities[0].Type != "completed_task" || je.activities[0].SourceEventID != "default-test-workflow-id/count" {
		t.Errorf("activities %+v", je.activities)
	}
	if len(je.onboarded) != 1 || !slices.Equal(je.released, []string{"amb1"}) {
		t.Errorf("onboarded %+v, released %v", je.onboarded, je.released)
	}
	if je.messages[0].Template != TemplateWelcome || je.messages[0].RecipientID != "" {
		t.Errorf("welcome sent as %+v", je.messages[0])
	}
}

func TestWaitForTakesItsTimeoutBranch(t *testing.T) {
	je := newJourneyEnv(t)
	g := mustGraph(t, `{"steps": [
	  {"id": "attend", "kind": "wait-for", "signal": "checked-in", "timeout": "720h", "on_timeout": "nudge"},
	  {"id": "nudge", "kind": "send", "template": "onboarding-attendance-nudge"},
	  {"id": "attend-again", "kind": "wait-for", "signal": "first-rsvp", "timeout": "240h", "next": "joined", "on_timeout": "lapsed"},
	  {"id": "joined", "kind": "end", "outcome": "onboarded"},
	  {"id": "lapsed", "kind": "end", "outcome": "lapsed"}]}`)
	je.runGraph(g, 1)
	if r := je.result(); r.Outcome != OutcomeLapsed {
		t.Errorf("outcome %q", r.Outcome)
	}
	if at := je.sentAt("nudge"); at != 30*day {
		t.Errorf("nudge at %v, want when the first wait timed out", at)
	}
	if outcomes := ended(je.state()); outcomes["attend"] != StepTimedOut || outcomes["attend-again"] != StepTimedOut {
		t.Errorf("outcomes %v", outcomes)
	}
	if len(je.onboarded) != 0 {
		t.Error("a lapsed journey recorded onboarded")
	}
}

func TestWhatTheMemberDidBeforeAWaitCountsAtOnce(t *testing.T) {
	je := newJourneyEnv(t)
	je.at(time.Hour, func() { je.signal(SignalRSVPed, RSVP{EventID: "e1"}) })
	g := mustGraph(t, `{"steps": [
	  {"id": "pause", "kind": "wait", "for": "48h"},
	  {"id": "rsvp", "kind": "wait-for", "signal": "first-rsvp", "timeout": "240h", "next": "yes", "on_timeout": "no"},
	  {"id": "yes", "kind": "end", "outcome": "onboarded"},
	  {"id": "no", "kind": "end", "outcome": "lapsed"}]}`)
	je.runGraph(g, 1)
	if r := je.result(); r.Outcome != OutcomeOnboarded {
		t.Errorf("outcome %q", r.Outcome)
	}
	if s := je.state(); !s.RSVPed || s.History[len(s.History)-1].At.Sub(je.start) != 48*time.Hour {
		t.Errorf("the journey should end as soon as the wait began: %+v", s.History)
	}
}

func TestBranchesFollowTheJourneyAndTheMember(t *testing.T) {
	cases := []struct {
		name  string
		cond  string
		setup func(je *journeyEnv)
		want  string
	}{
		{"profile not completed", `{"attribute": "profile-completed"}`, nil, "no"},
		{"profile completed", `{"attribute": "profile-completed"}`, func(je *journeyEnv) { je.signal(SignalProfileCompleted, nil) }, "yes"},
		{"attended", `{"attribute": "attended"}`, func(je *journeyEnv) { je.signal(SignalCheckedIn, CheckIn{EventID: "e1"}) }, "yes"},
		{"answered an invitation", `{"attribute": "rsvped"}`, func(je *journeyEnv) { je.signal(SignalRSVPed, RSVP{}) }, "yes"},
		{"no buddy yet", `{"attribute": "has-buddy"}`, nil, "no"},
		{"a journey tag", `{"attribute": "tag", "in": ["vip"]}`, nil, "no"},
		{"member in a segment", `{"segment": "seg-core"}`, func(je *journeyEnv) {
			je.conditions = func(c Condition) ConditionResult { return ConditionResult{Holds: c.Segment == "seg-core"} }
		}, "yes"},
		{"segment gone", `{"segment": "seg-old"}`, func(je *journeyEnv) {
			je.conditions = func(Condition) ConditionResult { return ConditionResult{Why: "segment seg-old no longer exists"} }
		}, "no"},
		{"member level", `{"attribute": "level", "in": ["Core"]}`, func(je *journeyEnv) {
			je.conditions = func(c Condition) ConditionResult { return ConditionResult{Holds: c.Attribute == AttrLevel} }
		}, "yes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			je := newJourneyEnv(t)
			if c.setup != nil {
				je.at(time.Minute, func() { c.setup(je) })
			}
			je.runGraph(mustGraph(t, `{"steps": [
			  {"id": "settle", "kind": "wait", "for": "1h"},
			  {"id": "ask", "kind": "branch", "if": `+c.cond+`, "then": "yes", "else": "no"},
			  {"id": "yes", "kind": "end", "outcome": "yes"},
			  {"id": "no", "kind": "end", "outcome": "no"}]}`), 1)
			if r := je.result(); r.Outcome != c.want {
				t.Errorf("outcome %q, want %q", r.Outcome, c.want)
			}
		})
	}
}

func TestWaitUntilATimeOfDayInTheMembersZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		after, want time.Time
	}{
		// Winter: 09:00 in Berlin is 08:00 UTC.
		{time.Date(2027, 1, 10, 6, 0, 0, 0, time.UTC), time.Date(2027, 1, 10, 8, 0, 0, 0, time.UTC)},
		{time.Date(2027, 1, 10, 8, 0, 0, 0, time.UTC), time.Date(2027, 1, 10, 8, 0, 0, 0, time.UTC)},
		{time.Date(2027, 1, 10, 9, 30, 0, 0, time.UTC), time.Date(2027, 1, 11, 8, 0, 0, 0, time.UTC)},
		// The night the clocks go forward: 09:00 is 07:00 UTC.
		{time.Date(2027, 3, 27, 12, 0, 0, 0, time.UTC), time.Date(2027, 3, 28, 7, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		got, err := nextTimeOfDay(c.after, "09:00", berlin)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("after %v: %v, %v, want %v", c.after, got, err, c.want)
		}
	}

	je := newJourneyEnv(t)
	je.tz = berlin
	je.env.SetStartTime(time.Date(2027, 1, 10, 20, 0, 0, 0, time.UTC))
	je.start = je.env.Now()
	je.runGraph(mustGraph(t, `{"steps": [{"id": "morning", "kind": "wait", "until": "09:00"}, {"id": "hello", "kind": "send", "template": "t"},
	  {"id": "end", "kind": "end"}]}`), 1)
	if at := je.sentAt("hello"); at != 12*time.Hour {
		t.Errorf("sent %v after 20:00 UTC, want at 09:00 Berlin the next morning (12 h)", at)
	}
}

func TestPausingStopsTheClockAndSkippingEndsAWait(t *testing.T) {
	je := newJourneyEnv(t)
	g := mustGraph(t, `{"steps": [
	  {"id": "hello", "kind": "send", "template": "onboarding-welcome"},
	  {"id": "wait", "kind": "wait", "for": "48h"},
	  {"id": "remind", "kind": "send", "template": "onboarding-profile-reminder"},
	  {"id": "profile", "kind": "wait-for", "signal": "profile-completed", "timeout": "240h"},
	  {"id": "end", "kind": "end", "outcome": "onboarded"}]}`)
	var paused State
	je.at(time.Hour, func() { je.signal(SignalPause, nil) })
	je.at(2*time.Hour, func() { paused = je.state() })
	je.at(25*time.Hour, func() { je.signal(SignalResume, nil) })
	je.at(4*day, func() { je.signal(SignalSkip, SkipRequest{}) })
	je.runGraph(g, 1)
	if r := je.result(); r.Outcome != OutcomeOnboarded {
		t.Errorf("outcome %q", r.Outcome)
	}
	if !paused.Paused || paused.Status != StatusPaused || !paused.NextDeadline.IsZero() {
		t.Errorf("while paused: %+v", paused)
	}
	if at := je.sentAt("remind"); at != 72*time.Hour {
		t.Errorf("reminder at %v, want a day late after a day's pause", at)
	}
	s := je.state()
	if outcomes := ended(s); outcomes["profile"] != StepSkipped {
		t.Errorf("outcomes %v", outcomes)
	}
	if end := s.History[len(s.History)-1].At.Sub(je.start); end != 4*day {
		t.Errorf("ended after %v, want at the skip", end)
	}
}

func TestARestartGoesBackToAStepOfTheJourney(t *testing.T) {
	je := newJourneyEnv(t)
	g := mustGraph(t, `{"steps": [
	  {"id": "hello", "kind": "send", "template": "onboarding-welcome"},
	  {"id": "profile", "kind": "wait-for", "signal": "profile-completed", "timeout": "240h"},
	  {"id": "end", "kind": "end", "outcome": "onboarded"}]}`)
	je.at(time.Hour, func() { je.signal(SignalRestart, RestartRequest{Step: "nowhere"}) })
	je.at(2*time.Hour, func() { je.signal(SignalRestart, RestartRequest{Step: "hello"}) })
	je.at(3*time.Hour, func() { je.signal(SignalProfileCompleted, nil) })
	je.runGraph(g, 1)
	if r := je.result(); r.Outcome != OutcomeOnboarded {
		t.Errorf("outcome %q", r.Outcome)
	}
	if got := je.keys(); !slices.Equal(got, []string{"hello", "hello/2"}) || je.sentAt("hello/2") != 2*time.Hour {
		t.Errorf("sent %v: the welcome again, with a key of its own, at the restart", got)
	}
	var notes []string
	for _, e := range je.state().History {
		if e.Event == EventNote || e.Event == EventRestarted {
			notes = append(notes, e.Event+" "+e.Detail)
		}
	}
	if !slices.Equal(notes, []string{"note restart from nowhere ignored", "restarted "}) {
		t.Errorf("history notes %v", notes)
	}
}

// TestADefinitionChangeLeavesRunningJourneysAloneUnlessMigrated runs two
// journeys of version 1 while version 2 appears: the one not migrated
// runs version 1 to its end; the migrated one goes on in version 2 from
// the step it was mapped to.
func TestADefinitionChangeLeavesRunningJourneysAloneUnlessMigrated(t *testing.T) {
	v1 := mustGraph(t, `{"steps": [
	  {"id": "hello", "kind": "send", "template": "onboarding-welcome"},
	  {"id": "profile", "kind": "wait-for", "signal": "profile-completed", "timeout": "240h"},
	  {"id": "old-goodbye", "kind": "send", "template": "goodbye-v1"},
	  {"id": "end", "kind": "end", "outcome": "onboarded"}]}`)
	v2 := mustGraph(t, `{"steps": [
	  {"id": "hello", "kind": "send", "template": "onboarding-welcome"},
	  {"id": "profile-2", "kind": "wait-for", "signal": "profile-completed", "timeout": "24h"},
	  {"id": "new-goodbye", "kind": "send", "template": "goodbye-v2"},
	  {"id": "end", "kind": "end", "outcome": "onboarded"}]}`)

	kept := newJourneyEnv(t)
	kept.runGraph(v1, 1) // version 2 exists meanwhile; nobody migrates this one
	if got := kept.keys(); !slices.Equal(got, []string{"hello", "old-goodbye"}) || kept.state().DefinitionVersion != 1 {
		t.Errorf("unmigrated journey sent %v at version %d", got, kept.state().DefinitionVersion)
	}

	moved := newJourneyEnv(t)
	var migrated State
	moved.at(time.Hour, func() { moved.signal(SignalMigrate, Migration{Version: 2, Journey: v2, Step: "profile-2"}) })
	moved.at(2*time.Hour, func() { migrated = moved.state() })
	moved.runGraph(v1, 1)
	if got := moved.keys(); !slices.Equal(got, []string{"hello", "new-goodbye"}) || moved.sentAt("new-goodbye") != 25*time.Hour {
		t.Errorf("migrated journey sent %v (goodbye at %v)", got, moved.sentAt("new-goodbye"))
	}
	if migrated.DefinitionVersion != 2 || migrated.Step != "profile-2" || !slices.Equal(migrated.Steps, v2.IDs()) {
		t.Errorf("after the migration: version %d at %q with steps %v", migrated.DefinitionVersion, migrated.Step, migrated.Steps)
	}

	// A migration to a step the version lacks is ignored.
	ignored := newJourneyEnv(t)
	ignored.at(time.Hour, func() { ignored.signal(SignalMigrate, Migration{Version: 2, Journey: v2, Step: "profile"}) })
	ignored.runGraph(v1, 1)
	if ignored.state().DefinitionVersion != 1 || !slices.Contains(ignored.keys(), "old-goodbye") {
		t.Errorf("a migration to a missing step moved the journey: %v", ignored.keys())
	}
}

func TestATestRunWritesToTheOrganiserAndRecordsNothing(t *testing.T) {
	je := newJourneyEnv(t)
	je.confirmed = false // an unconfirmed address does not hold a test run up
	g := mustGraph(t, everyKind)
	je.env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowNameTest})
	je.env.ExecuteWorkflow(WorkflowNameTest, Input{Community: "demo", MemberID: "m1", Journey: &g, Version: 5,
		Test: &TestRun{RecipientID: "org-1", MaxWait: time.Minute}})
	if r := je.result(); r.Outcome != OutcomeLapsed {
		t.Errorf("outcome %q: the profile never came, so the timeout branch", r.Outcome)
	}
	for _, m := range je.messages {
		if m.RecipientID != "org-1" {
			t.Errorf("message %+v is not for the organiser", m)
		}
	}
	if len(je.activities) != 0 || len(je.onboarded) != 0 || slices.Contains(je.keys(), "buddy") {
		t.Errorf("a test run recorded %v / %v or reserved a buddy (%v)", je.activities, je.onboarded, je.keys())
	}
	s := je.state()
	if !s.Test || s.History[len(s.History)-1].At.Sub(je.start) > 3*time.Minute {
		t.Errorf("test run state %+v: every wait lasts a minute at most", s)
	}
}

func TestAVersionedJourneyWaitsForTheAddressFirst(t *testing.T) {
	je := newJourneyEnv(t)
	je.confirmed = false
	je.at(2*day, func() { je.signal(SignalEmailConfirmed, nil) })
	je.runGraph(mustGraph(t, `{"steps": [{"id": "hello", "kind": "send", "template": "onboarding-welcome"}, {"id": "end", "kind": "end"}]}`), 1)
	if r := je.result(); r.Outcome != OutcomeCompleted {
		t.Errorf("outcome %q", r.Outcome)
	}
	if at := je.sentAt("hello"); at != 2*day {
		t.Errorf("welcome at %v, want at the confirmation", at)
	}
}

// A journey started from a MemberJoined that said the address is
// confirmed welcomes at once without asking the members service.
func TestAJourneyToldTheAddressIsConfirmedDoesNotAsk(t *testing.T) {
	je := newJourneyEnv(t)
	je.confirmed = false // were it asked, it would wait
	asked := 0
	je.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "AddressConfirmed" {
			asked++
		}
	})
	g := mustGraph(t, `{"steps": [{"id": "hello", "kind": "send", "template": "onboarding-welcome"}, {"id": "end", "kind": "end"}]}`)
	je.env.ExecuteWorkflow(WorkflowName, Input{Community: "demo", MemberID: "m1", Journey: &g, Version: 1, AddressConfirmed: true})
	if r := je.result(); r.Outcome != OutcomeCompleted {
		t.Errorf("outcome %q", r.Outcome)
	}
	if at := je.sentAt("hello"); at != 0 {
		t.Errorf("welcome at %v, want at once", at)
	}
	if asked != 0 {
		t.Errorf("AddressConfirmed asked %d times, want never", asked)
	}
}

func TestALoopThatWaitsStopsAtTheStepLimit(t *testing.T) {
	je := newJourneyEnv(t)
	je.runGraph(mustGraph(t, `{"steps": [
	  {"id": "ping", "kind": "send", "template": "t"},
	  {"id": "rest", "kind": "wait", "for": "1m", "next": "ping"}]}`), 1)
	if r := je.result(); r.Outcome != OutcomeStepLimit {
		t.Errorf("outcome %q", r.Outcome)
	}
	if n := len(je.keys()); n != MaxTransitions/2 {
		t.Errorf("%d messages, want one per two steps up to the limit", n)
	}
}

func TestTheDefaultGraphDoesWhatTheFixedJourneyDid(t *testing.T) {
	je := newJourneyEnv(t)
	je.at(6*day, func() { je.signal(SignalProfileCompleted, nil) })
	je.at(40*day, func() { je.signal(SignalCheckedIn, CheckIn{EventID: "e1"}) })
	je.runGraph(DefaultGraph(), 1)
	if r := je.result(); r.Outcome != OutcomeOnboarded {
		t.Errorf("outcome %q", r.Outcome)
	}
	want := map[string]time.Duration{"welcome": 0, "complete-profile-reminder-1": 2 * day, "complete-profile-reminder-2": 5 * day,
		"suggest-event": 6 * day, "buddy": 6 * day, "first-attendance-reminder-1": 36 * day}
	for key, at := range want {
		if got := je.sentAt(key); got != at {
			t.Errorf("%s at %v, want %v (sent %v)", key, got, at, je.keys())
		}
	}
}
