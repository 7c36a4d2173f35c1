package onboarding

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Input starts a journey.
type Input struct {
	Community string
	MemberID  string
	// Definition is the journey's steps; nil means DefaultDefinition. The
	// trigger and the journeys API always pass the community's definition,
	// so a journey keeps the steps it started with.
	Definition *Definition `json:",omitempty"`
	// Journey, when set, is the versioned definition the journey runs
	// (Definition is then unset), Version its number, and Test set for a
	// test run. Every journey started today has one.
	Journey *Graph   `json:",omitempty"`
	Version int      `json:",omitempty"`
	Test    *TestRun `json:",omitempty"`
	// AddressConfirmed says, at the start, that the member's address is
	// confirmed or vouched for (MemberJoined's email_verified): the
	// journey then does not ask the members service. A confirmed address
	// stays the member's, so the answer cannot go stale. Unset, the
	// journey asks, as every journey before it did.
	AddressConfirmed bool `json:",omitempty"`

	// ReminderAfter and GiveUpAfter tuned journeys of the first version;
	// they are read only when replaying those.
	ReminderAfter time.Duration `json:",omitempty"`
	GiveUpAfter   time.Duration `json:",omitempty"`
}

// Result is how a journey ended.
type Result struct {
	Outcome string
}

// CheckIn is what SignalCheckedIn carries.
type CheckIn struct {
	EventID      string
	OccurrenceID string
}

// SkipRequest is what SignalSkip carries: the step to skip, or the current
// one when Step is empty.
type SkipRequest struct {
	Step string
}

// MessageInput names the member a journey message goes to.
type MessageInput struct {
	Community  string
	MemberID   string
	WorkflowID string
	// Kind is the message (MessageWelcome, ...); Key makes its idempotency
	// key unique within the journey. Both are unset for the first
	// version's activities, which know their message.
	Kind string `json:",omitempty"`
	Key  string `json:",omitempty"`
	// Template is the communications template a versioned journey sends.
	Template string `json:",omitempty"`
	// RecipientID, in a test run, is the organiser every message goes to
	// instead of the member.
	RecipientID string `json:",omitempty"`
}

// changeDefinedJourney marks journeys run from a Definition (version 1);
// older histories (DefaultVersion) run legacyJourney.
const changeDefinedJourney = "defined-journey"

// changeAwaitConfirmation marks journeys that wait for a member who joined
// publicly to confirm their address before any e-mail (version 1); older
// histories (DefaultVersion) start with their first step.
const changeAwaitConfirmation = "await-confirmation"

// ConfirmationWait is how long a journey waits for the member to confirm
// their address: a day longer than the confirmation link lives (7 days),
// so a link followed at its last moment still reaches the journey. Then
// the journey ends as OutcomeUnconfirmed, having sent nothing.
const ConfirmationWait = 8 * 24 * time.Hour

// activityOptions bound every onboarding activity: each attempt has 30 s,
// retries back off to 5 minutes for up to a day, and errors that retrying
// cannot fix end the attempt at once.
func activityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        5 * time.Minute,
			NonRetryableErrorTypes: []string{ErrTypeMemberNotFound, ErrTypeMessageRefused, ErrTypeInvalidRequest},
		},
	}
}

// Workflow runs one member's onboarding journey.
func Workflow(ctx workflow.Context, in Input) (Result, error) {
	if in.Community == "" || in.MemberID == "" {
		return Result{}, temporal.NewNonRetryableApplicationError("community and member id are required", ErrTypeInvalidRequest, nil)
	}
	if in.Journey != nil {
		// Versioned journeys came after every change below: their inputs
		// tell them apart from the histories those changes guard.
		if err := in.Journey.Validate(); err != nil {
			return Result{}, temporal.NewNonRetryableApplicationError("journey definition: "+err.Error(), ErrTypeInvalidDefinition, nil)
		}
		return newGraphJourney(ctx, in).run()
	}
	if workflow.GetVersion(ctx, changeDefinedJourney, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return legacyJourney(ctx, in)
	}
	def := DefaultDefinition()
	if in.Definition != nil {
		def = *in.Definition
	}
	if err := def.Validate(); err != nil {
		return Result{}, temporal.NewNonRetryableApplicationError("journey definition: "+err.Error(), ErrTypeInvalidDefinition, nil)
	}
	return newJourney(ctx, in, def).run()
}
