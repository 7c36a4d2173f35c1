package onboarding

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

const day = 24 * time.Hour

// journeyEnv runs definition journeys with recording activity mocks.
type journeyEnv struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	a   *Activities

	mu        sync.Mutex
	start     time.Time
	sent      []sentMessage
	released  []string
	onboarded []OnboardedInput

	// What the mocks answer.
	confirmed  bool // whether the member's address is confirmed at the start
	confirmErr error
	suggested  []string
	buddy      string
	sendErr    func(MessageInput) error
	onbErr     error
	// Of versioned journeys: the member's time zone, how conditions on
	// the member turn out, how many organisers are told.
	tz         *time.Location
	conditions func(Condition) ConditionResult
	organisers int

	messages   []MessageInput
	activities []StepActivityInput
}

type sentMessage struct {
	key string
	at  time.Duration // since the journey started
}

func newJourneyEnv(t *testing.T) *journeyEnv {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	je := &journeyEnv{t: t, env: suite.NewTestWorkflowEnvironment(), a: &Activities{}, confirmed: true, suggested: []string{"e1"}, buddy: "amb1",
		tz: time.UTC, organisers: 2}
	env, a := je.env, je.a
	env.RegisterActivity(a)
	env.RegisterWorkflowWithOptions(Workflow, workflowRegisterOptions())
	je.start = env.Now()
	send := func(_ context.Context, in MessageInput) error {
		if in.Key == "" {
			in.Key = "welcome" // SendWelcome knows its key
		}
		je.record(in.Key)
		if je.sendErr != nil {
			return je.sendErr(in)
		}
		return nil
	}
	env.OnActivity(a.AddressConfirmed, mock.Anything, mock.Anything).Return(func(context.Context, MessageInput) (bool, error) {
		return je.confirmed, je.confirmErr
	}).Maybe()
	env.OnActivity(a.SendJourneyMessage, mock.Anything, mock.Anything).Return(send).Maybe()
	env.OnActivity(a.SendWelcome, mock.Anything, mock.Anything).Return(send).Maybe()
	env.OnActivity(a.SuggestEvents, mock.Anything, mock.Anything).Return(func(_ context.Context, in SuggestInput) (SuggestResult, error) {
		je.record(in.Key)
		return SuggestResult{EventIDs: je.suggested}, nil
	}).Maybe()
	env.OnActivity(a.AssignBuddy, mock.Anything, mock.Anything).Return(func(context.Context, BuddyInput) (BuddyResult, error) {
		je.record("buddy")
		return BuddyResult{AmbassadorID: je.buddy}, nil
	}).Maybe()
	env.OnActivity(a.ReleaseBuddy, mock.Anything, mock.Anything).Return(func(_ context.Context, in BuddyInput) error {
		je.mu.Lock()
		defer je.mu.Unlock()
		je.released = append(je.released, in.AmbassadorID)
		return nil
	}).Maybe()
	env.OnActivity(a.SendTemplate, mock.Anything, mock.Anything).Return(func(ctx context.Context, in MessageInput) error {
		je.mu.Lock()
		je.messages = append(je.messages, in)
		je.mu.Unlock()
		return send(ctx, in)
	}).Maybe()
	env.OnActivity(a.NextTimeOfDay, mock.Anything, mock.Anything).Return(func(_ context.Context, in TimeOfDayInput) (time.Time, error) {
		return nextTimeOfDay(in.After, in.At, je.tz)
	}).Maybe()
	env.OnActivity(a.EvaluateCondition, mock.Anything, mock.Anything).Return(func(_ context.Context, in ConditionInput) (ConditionResult, error) {
		if je.conditions == nil {
			return ConditionResult{}, nil
		}
		return je.conditions(in.Condition), nil
	}).Maybe()
	env.OnActivity(a.RecordStepActivity, mock.Anything, mock.Anything).Return(func(_ context.Context, in StepActivityInput) error {
		je.mu.Lock()
		defer je.mu.Unlock()
		je.activities = append(je.activities, in)
		return nil
	}).Maybe()
	env.OnActivity(a.NotifyOrganisers, mock.Anything, mock.Anything).Return(func(_ context.Context, in NoticeInput) (NoticeResult, error) {
		je.record("notify:" + in.Key)
		return NoticeResult{Sent: je.organisers}, nil
	}).Maybe()
	env.OnActivity(a.RecordOnboarded, mock.Anything, mock.Anything).Return(func(_ context.Context, in OnboardedInput) error {
		je.mu.Lock()
		defer je.mu.Unlock()
		je.onboarded = append(je.onboarded, in)
		return je.onbErr
	}).Maybe()
	return je
}

func (je *journeyEnv) record(key string) {
	je.mu.Lock()
	defer je.mu.Unlock()
	je.sent = append(je.sent, sentMessage{key: key, at: je.env.Now().Sub(je.start)})
}

func (je *journeyEnv) keys() []string {
	je.mu.Lock()
	defer je.mu.Unlock()
	var out []string
	for _, s := range je.sent {
		out = append(out, s.key)
	}
	return out
}

// sentAt is when key was sent, since the start; -1 if never.
func (je *journeyEnv) sentAt(key string) time.Duration {
	je.mu.Lock()
	defer je.mu.Unlock()
	for _, s := range je.sent {
		if s.key == key {
			return s.at
		}
	}
	return -1
}

// at runs f at d after the start.
func (je *journeyEnv) at(d time.Duration, f func()) { je.env.RegisterDelayedCallback(f, d) }

func (je *journeyEnv) signal(name string, arg any) { je.env.SignalWorkflow(name, arg) }

func (je *journeyEnv) state() State {
	je.t.Helper()
	v, err := je.env.QueryWorkflow(QueryState)
	if err != nil {
		je.t.Fatal(err)
	}
	var s State
	if err := v.Get(&s); err != nil {
		je.t.Fatal(err)
	}
	return s
}

func (je *journeyEnv) run(def *Definition) {
	je.env.ExecuteWorkflow(WorkflowName, Input{Community: "demo", MemberID: "m1", Definition: def})
}

func (je *journeyEnv) result() Result {
	je.t.Helper()
	if err := je.env.GetWorkflowError(); err != nil {
		je.t.Fatalf("journey failed: %v", err)
	}
	var r Result
	if err := je.env.GetWorkflowResult(&r); err != nil {
		je.t.Fatal(err)
	}
	return r
}

// ended returns the outcome of each step, from the history.
func ended(s State) map[string]string {
	out := map[string]string{}
	for _, e := range s.History {
		if e.Event == EventEnded {
			out[e.Step] = e.Detail
		}
	}
	return out
}

func TestDefaultJourneyRunsEveryStepAndRecordsOnboarding(t *testing.T) {
	je := newJourneyEnv(t)
	var midway, final State
	je.at(time.Hour, func() {
		midway = je.state()
		je.signal(SignalProfileCompleted, nil)
	})
	je.at(3*day, func() { je.signal(SignalCheckedIn, CheckIn{EventID: "e1", OccurrenceID: "o1"}) })
	je.run(nil)

	final = je.state() // a finished journey still answers
	if r := je.result(); r.Outcome != OutcomeOnboarded {
		t.Errorf("outcome = %q", r.Outcome)
	}
	if midway.Step != StepCompleteProfile || midway.StepIndex != 1 || midway.Status != StatusRunning || midway.Version != 2 {
		t.Errorf("state after an hour = %+v", midway)
	}
	if want := je.start.Add(2 * day); !midway.NextDeadline.Equal(want) {
		t.Errorf("next deadline = %v, want the day-2 reminder at %v", midway.NextDeadline, want)
	}
	want := []string{"welcome", "event-suggestion", "buddy"}
	if got := je.keys(); !slices.Equal(got, want) {
		t.Errorf("activities = %v, want %v (no reminder: the profile came first)", got, want)
	}
	if len(je.onboarded) != 1 || je.onboarded[0].WorkflowID == "" || !je.onboarded[0].At.Equal(je.start.Add(3*day)) {
		t.Errorf("onboarded recorded as %+v", je.onboarded)
	}
	if !slices.Equal(je.released, []string{"amb1"}) {
		t.Errorf("released buddies %v, want amb1 once the journey ended", je.released)
	}
	outcomes := ended(final)
	for _, step := range StepTypes() {
		if outcomes[step] != StepCompleted {
			t.Errorf("step %s ended %q, want completed (history %+v)", step, outcomes[step], final.History)
		}
	}
	if final.Status != StatusCompleted || final.Step != StepDone || final.BuddyID != "amb1" || !slices.Equal(final.SuggestedEventIDs, []string{"e1"}) || !final.Attended {
		t.Errorf("final state = %+v", final)
	}
}

func TestProfileRemindersGoOutOnDayTwoAndFiveThenTheJourneyMovesOn(t *testing.T) {
	je := newJourneyEnv(t)
	var afterWait State
	je.at(7*day+time.Minute, func() {
		afterWait = je.state()
		je.signal(SignalCheckedIn, CheckIn{EventID: "e1"})
	})
	je.run(nil)

	je.result()
	if got := je.sentAt("profile-reminder-1"); got != 2*day {
		t.Errorf("first reminder after %v, want 48h", got)
	}
	if got := je.sentAt("profile-reminder-2"); got != 5*day {
		t.Errorf("second reminder after %v, want 120h", got)
	}
	if ended(afterWait)[StepCompleteProfile] != StepTimedOut || afterWait.Step != StepFirstAttendance {
		t.Errorf("after the 7-day wait: %+v", afterWait)
	}
	if got := je.sentAt("event-suggestion"); got != 7*day {
		t.Errorf("suggestion after %v, want when the profile step's wait ended", got)
	}
}

func TestAttendanceNudgeAfterThirtyDaysThenTheJourneyLapses(t *testing.T) {
	je := newJourneyEnv(t)
	je.at(time.Minute, func() { je.signal(SignalProfileCompleted, nil) })
	je.run(nil)

	if r := je.result(); r.Outcome != OutcomeLapsed {
		t.Errorf("outcome = %q, want lapsed", r.Outcome)
	}
	if got := je.sentAt("attendance-nudge-1"); got != 30*day+time.Minute {
		t.Errorf("nudge after %v, want 30 days into the attendance step", got)
	}
	if len(je.onboarded) != 0 {
		t.Errorf("a lapsed journey recorded onboarding: %+v", je.onboarded)
	}
	if !slices.Equal(je.released, []string{"amb1"}) {
		t.Errorf("a lapsed journey kept its buddy: released %v", je.released)
	}
}

func TestACheckInBeforeTheAttendanceStepCompletesIt(t *testing.T) {
	je := newJourneyEnv(t)
	je.at(time.Minute, func() { je.signal(SignalCheckedIn, CheckIn{EventID: "e9"}) })
	je.at(2*time.Minute, func() { je.signal(SignalCheckedIn, CheckIn{EventID: "e9"}) }) // redelivered
	je.at(time.Hour, func() { je.signal(SignalProfileCompleted, nil) })
	je.run(nil)
	if r := je.result(); r.Outcome != OutcomeOnboarded {
		t.Errorf("outcome = %q", r.Outcome)
	}
	if slices.Contains(je.keys(), "attendance-nudge-1") {
		t.Error("a member who attended was nudged")
	}
}

func TestSkippingSteps(t *testing.T) {
	t.Run("the current step", func(t *testing.T) {
		je := newJourneyEnv(t)
		je.at(time.Hour, func() { je.signal(SignalSkip, SkipRequest{}) })
		je.at(2*time.Hour, func() { je.signal(SignalCheckedIn, CheckIn{}) })
		je.run(nil)
		je.result()
		if got := je.sentAt("event-suggestion"); got != time.Hour {
			t.Errorf("suggestion after %v, want at once after the profile step was skipped", got)
		}
	})
	t.Run("a later step", func(t *testing.T) {
		je := newJourneyEnv(t)
		var s State
		je.at(time.Hour, func() { je.signal(SignalSkip, SkipRequest{Step: StepAssignBuddy}) })
		je.at(2*time.Hour, func() { je.signal(SignalProfileCompleted, nil) })
		je.at(3*time.Hour, func() {
			s = je.state()
			je.signal(SignalCheckedIn, CheckIn{})
		})
		je.run(nil)
		je.result()
		if slices.Contains(je.keys(), "buddy") {
			t.Error("the skipped buddy step ran")
		}
		if ended(s)[StepAssignBuddy] != StepSkipped || ended(s)[StepSuggestEvent] != StepCompleted {
			t.Errorf("history %+v", s.History)
		}
		if len(je.released) != 0 {
			t.Errorf("released %v without a buddy", je.released)
		}
	})
	t.Run("a step that already ran is ignored", func(t *testing.T) {
		je := newJourneyEnv(t)
		je.at(time.Hour, func() { je.signal(SignalSkip, SkipRequest{Step: StepWelcome}) })
		je.at(4*day, func() { je.signal(SignalProfileCompleted, nil) })
		je.at(5*day, func() { je.signal(SignalCheckedIn, CheckIn{}) })
		je.run(nil)
		je.result()
		if got := je.sentAt("profile-reminder-1"); got != 2*day {
			t.Errorf("the profile step was disturbed: first reminder after %v", got)
		}
	})
}

func TestPauseStopsTheClockUntilResumed(t *testing.T) {
	je := newJourneyEnv(t)
	var paused State
	je.at(day, func() { je.signal(SignalPause, nil) })
	je.at(day+time.Hour, func() {
		paused = je.state()
		je.signal(SignalPause, nil) // twice is harmless
	})
	je.at(4*day, func() { je.signal(SignalResume, nil) })
	je.at(6*day, func() { je.signal(SignalProfileCompleted, nil) })
	je.at(7*day, func() { je.signal(SignalCheckedIn, CheckIn{}) })
	je.run(nil)
	je.result()
	if !paused.Paused || paused.Status != StatusPaused || !paused.NextDeadline.IsZero() {
		t.Errorf("while paused: %+v", paused)
	}
	// Day 2 of the step comes three paused days later.
	if got := je.sentAt("profile-reminder-1"); got != 5*day {
		t.Errorf("first reminder after %v, want 5 days (2 + 3 paused)", got)
	}
}

func TestAPausedJourneyDoesNotStartItsNextStep(t *testing.T) {
	je := newJourneyEnv(t)
	je.at(time.Hour, func() {
		je.signal(SignalPause, nil)
		je.signal(SignalProfileCompleted, nil)
	})
	je.at(10*day, func() { je.signal(SignalResume, nil) })
	je.at(11*day, func() { je.signal(SignalCheckedIn, CheckIn{}) })
	je.run(nil)
	je.result()
	if got := je.sentAt("event-suggestion"); got != 10*day {
		t.Errorf("suggestion after %v, want when the journey was resumed", got)
	}
}

func TestCancellingAJourneyReleasesItsBuddy(t *testing.T) {
	je := newJourneyEnv(t)
	je.at(time.Hour, func() { je.signal(SignalProfileCompleted, nil) })
	je.at(2*day, func() { je.env.CancelWorkflow() })
	je.run(nil)
	if err := je.env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("error = %v, want cancelled", err)
	}
	if !slices.Equal(je.released, []string{"amb1"}) {
		t.Errorf("released %v", je.released)
	}
	if len(je.onboarded) != 0 {
		t.Error("a cancelled journey recorded onboarding")
	}
}

func TestAMemberWhoIsGoneEndsTheJourneyQuietly(t *testing.T) {
	je := newJourneyEnv(t)
	je.sendErr = func(MessageInput) error {
		return temporal.NewNonRetryableApplicationError("gone", ErrTypeMemberNotFound, nil)
	}
	je.run(nil)
	if r := je.result(); r.Outcome != OutcomeMemberGone {
		t.Errorf("outcome = %q", r.Outcome)
	}
}

func TestRefusedMessagesDoNotStopTheJourney(t *testing.T) {
	je := newJourneyEnv(t)
	je.sendErr = func(MessageInput) error {
		return temporal.NewNonRetryableApplicationError("refused", ErrTypeMessageRefused, nil)
	}
	var s State
	je.at(3*day, func() {
		s = je.state()
		je.signal(SignalProfileCompleted, nil)
	})
	je.at(4*day, func() { je.signal(SignalCheckedIn, CheckIn{}) })
	je.run(nil)
	if r := je.result(); r.Outcome != OutcomeOnboarded {
		t.Errorf("outcome = %q", r.Outcome)
	}
	if ended(s)[StepWelcome] != StepRefused || s.WelcomeSent {
		t.Errorf("welcome after a refusal: %+v", s)
	}
}

func TestAnActivityFailureFailsTheJourney(t *testing.T) {
	je := newJourneyEnv(t)
	je.sendErr = func(MessageInput) error {
		return temporal.NewNonRetryableApplicationError("bad", ErrTypeInvalidRequest, nil)
	}
	je.run(nil)
	var appErr *temporal.ApplicationError
	if err := je.env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != ErrTypeInvalidRequest {
		t.Errorf("error = %v, want the activity's", err)
	}
}

func TestNothingToSuggestAndNoBuddyFree(t *testing.T) {
	je := newJourneyEnv(t)
	je.suggested, je.buddy = nil, ""
	var s State
	je.at(time.Hour, func() { je.signal(SignalProfileCompleted, nil) })
	je.at(2*time.Hour, func() {
		s = je.state()
		je.signal(SignalCheckedIn, CheckIn{})
	})
	je.run(nil)
	je.result()
	if o := ended(s); o[StepSuggestEvent] != StepNone || o[StepAssignBuddy] != StepNone {
		t.Errorf("outcomes %v", o)
	}
	if len(je.released) != 0 {
		t.Errorf("released %v", je.released)
	}
}

func TestAJourneyEndsWhenTheOnboardedActivityIsRefused(t *testing.T) {
	je := newJourneyEnv(t)
	je.onbErr = temporal.NewNonRetryableApplicationError("type not weighed", ErrTypeInvalidRequest, nil)
	je.run(&Definition{Steps: []Step{{Type: StepWelcome}}})
	if r := je.result(); r.Outcome != OutcomeOnboarded {
		t.Errorf("outcome = %q", r.Outcome)
	}
}

func TestAShortDefinitionRunsOnlyItsSteps(t *testing.T) {
	je := newJourneyEnv(t)
	je.run(&Definition{Steps: []Step{{Type: StepSuggestEvent, Limit: 5}, {Type: StepWelcome}}})
	je.result()
	if got := je.keys(); !slices.Equal(got, []string{"event-suggestion", "welcome"}) {
		t.Errorf("ran %v", got)
	}
}

func TestAnUnknownStepTypeIsRefused(t *testing.T) {
	je := newJourneyEnv(t)
	je.run(&Definition{Steps: []Step{{Type: StepWelcome}, {Type: "dance"}}})
	var appErr *temporal.ApplicationError
	err := je.env.GetWorkflowError()
	if !errors.As(err, &appErr) || appErr.Type() != ErrTypeInvalidDefinition || !strings.Contains(err.Error(), "steps[1].type") {
		t.Errorf("error = %v, want InvalidDefinition naming steps[1].type", err)
	}
	if len(je.keys()) != 0 {
		t.Error("a refused journey sent something")
	}
}

func TestSkippingWhilePausedEndsTheStepButWaitsForTheResume(t *testing.T) {
	je := newJourneyEnv(t)
	var paused State
	je.at(time.Hour, func() {
		je.signal(SignalPause, nil)
		je.signal(SignalSkip, SkipRequest{})
	})
	je.at(2*time.Hour, func() { paused = je.state() })
	je.at(3*day, func() { je.signal(SignalResume, nil) })
	je.at(4*day, func() { je.signal(SignalCheckedIn, CheckIn{}) })
	je.run(nil)
	je.result()
	if ended(paused)[StepCompleteProfile] != StepSkipped || !paused.Paused {
		t.Errorf("while paused: %+v", paused)
	}
	if got := je.sentAt("event-suggestion"); got != 3*day {
		t.Errorf("suggestion after %v, want at the resume", got)
	}
	if slices.Contains(je.keys(), "profile-reminder-1") {
		t.Error("a skipped step reminded")
	}
}

func TestAMemberGoneAtTheEndIsNotOnboarded(t *testing.T) {
	je := newJourneyEnv(t)
	je.onbErr = temporal.NewNonRetryableApplicationError("gone", ErrTypeMemberNotFound, nil)
	je.run(&Definition{Steps: []Step{{Type: StepAssignBuddy}}})
	if r := je.result(); r.Outcome != OutcomeMemberGone {
		t.Errorf("outcome = %q", r.Outcome)
	}
	if !slices.Equal(je.released, []string{"amb1"}) {
		t.Errorf("released %v", je.released)
	}
}
