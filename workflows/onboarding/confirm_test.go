package onboarding

import (
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
)

func welcomeOnly() *Definition {
	return &Definition{Steps: []Step{{Type: StepWelcome}, {Type: StepCompleteProfile, Wait: Duration(day)}}}
}

// A member who joined publicly gets nothing until they confirm their
// address; the journey then runs as usual.
func TestAJourneyWaitsForThePublicJoinersConfirmation(t *testing.T) {
	je := newJourneyEnv(t)
	je.confirmed = false
	var waiting State
	je.at(2*day, func() {
		waiting = je.state()
		je.signal(SignalEmailConfirmed, nil)
	})
	je.at(2*day+time.Hour, func() { je.signal(SignalEmailConfirmed, nil) }) // a redelivery
	je.run(welcomeOnly())
	r := je.result()
	if waiting.Step != StepConfirmEmail || !waiting.NextDeadline.Equal(je.start.Add(ConfirmationWait)) || len(je.keys()) > 1 {
		t.Errorf("while waiting: step %q deadline %v, sent %v", waiting.Step, waiting.NextDeadline, je.keys())
	}
	if got := je.sentAt("welcome"); got != 2*day {
		t.Errorf("welcome sent at %v, want on confirmation (2 days)", got)
	}
	if r.Outcome != OutcomeOnboarded {
		t.Errorf("outcome = %q", r.Outcome)
	}
	s := je.state()
	if !s.EmailConfirmed || ended(s)[StepConfirmEmail] != StepCompleted {
		t.Errorf("state = %+v", s)
	}
	confirmations := 0
	for _, e := range s.History {
		if e.Event == EventConfirmed {
			confirmations++
		}
	}
	if confirmations != 1 {
		t.Errorf("confirmations in the history = %d, want 1 for a redelivered signal", confirmations)
	}
}

// An address never confirmed ends the journey after the wait, with
// nothing sent to it.
func TestAnUnconfirmedJourneyEndsAfterTheWaitWithoutAnyMail(t *testing.T) {
	je := newJourneyEnv(t)
	je.confirmed = false
	je.run(nil)
	if r := je.result(); r.Outcome != OutcomeUnconfirmed {
		t.Errorf("outcome = %q, want %q", r.Outcome, OutcomeUnconfirmed)
	}
	if sent := je.keys(); len(sent) != 0 || len(je.onboarded) != 0 {
		t.Errorf("sent %v, onboarded %v; want nothing", sent, je.onboarded)
	}
	if d := je.env.Now().Sub(je.start); d != ConfirmationWait {
		t.Errorf("ended after %v, want %v", d, ConfirmationWait)
	}
	if s := je.state(); ended(s)[StepConfirmEmail] != StepTimedOut || s.Status != StatusCompleted {
		t.Errorf("state = %+v", s)
	}
}

// An organiser cannot skip the confirmation: no e-mail goes to an
// unconfirmed address.
func TestTheConfirmationWaitCannotBeSkipped(t *testing.T) {
	je := newJourneyEnv(t)
	je.confirmed = false
	je.at(time.Hour, func() { je.signal(SignalSkip, SkipRequest{}) })
	je.at(2*time.Hour, func() { je.signal(SignalSkip, SkipRequest{Step: StepConfirmEmail}) })
	je.run(welcomeOnly())
	if r := je.result(); r.Outcome != OutcomeUnconfirmed || len(je.keys()) != 0 {
		t.Errorf("outcome %q, sent %v; want unconfirmed with nothing sent", r.Outcome, je.keys())
	}
}

// A member the team added (or one whose address was confirmed before the
// journey asked) starts at once.
func TestAConfirmedMemberStartsAtOnce(t *testing.T) {
	je := newJourneyEnv(t)
	je.run(welcomeOnly())
	if r := je.result(); r.Outcome != OutcomeOnboarded || je.sentAt("welcome") != 0 {
		t.Errorf("outcome %q, welcome at %v", r.Outcome, je.sentAt("welcome"))
	}
	s := je.state()
	if !s.EmailConfirmed || slices.ContainsFunc(s.History, func(e Entry) bool { return e.Step == StepConfirmEmail }) {
		t.Errorf("a confirmed member waited: %+v", s.History)
	}
}

func TestAMemberGoneBeforeConfirmingEndsTheJourneyQuietly(t *testing.T) {
	je := newJourneyEnv(t)
	je.confirmErr = temporal.NewNonRetryableApplicationError("gone", ErrTypeMemberNotFound, nil)
	je.run(nil)
	if r := je.result(); r.Outcome != OutcomeMemberGone || len(je.keys()) != 0 {
		t.Errorf("outcome %q, sent %v", r.Outcome, je.keys())
	}
}
