// Package onboarding is a new member's onboarding journey, defined per
// community as a list of steps: a welcome e-mail, completing the profile
// (with reminders), an event suggestion, a buddy among the ambassadors, and
// the first attendance. Organisers can skip a step, pause and resume; a
// member leaving cancels it.
package onboarding

import "go.temporal.io/sdk/workflow"

// TaskQueue is where onboarding workflows and activities run.
const TaskQueue = "onboarding"

// WorkflowName is the registered name of the onboarding workflow.
const WorkflowName = "Onboarding"

// Signals a journey reacts to.
const (
	// SignalProfileCompleted tells a journey that the member completed
	// their profile; it carries nothing.
	SignalProfileCompleted = "profile-completed"
	// SignalCheckedIn tells a journey the member attended an event; it
	// carries a CheckIn.
	SignalCheckedIn = "checked-in"
	// SignalSkip skips a step; it carries a SkipRequest.
	SignalSkip = "skip"
	// SignalPause stops the journey's clock until SignalResume.
	SignalPause  = "pause"
	SignalResume = "resume"
	// SignalEmailConfirmed tells a journey that the member confirmed
	// their address (the trigger sends it on EmailConfirmed); it carries
	// nothing.
	SignalEmailConfirmed = "email-confirmed"
	// SignalRSVPed tells a journey the member answered an invitation; it
	// carries an RSVP.
	SignalRSVPed = "rsvped"
	// SignalRestart makes a versioned journey go on from a step; it
	// carries a RestartRequest.
	SignalRestart = "restart"
	// SignalMigrate moves a versioned journey to another version of its
	// definition; it carries a Migration.
	SignalMigrate = "migrate"
)

// QueryState returns the journey's State.
const QueryState = "state"

// Memo keys a journey keeps current, for listing journeys without
// querying each.
const (
	MemoStep    = "step"
	MemoPaused  = "paused"
	MemoOutcome = "outcome"
	// MemoVersion is the definition version a versioned journey runs.
	MemoVersion = "version"
)

// WorkflowID is the one journey a member has in a community. Starting it
// twice fails, so a redelivered MemberJoined cannot start a second journey.
func WorkflowID(community, memberID string) string {
	return "onboarding/" + community + "/" + memberID
}

// WorkflowNameTest is the registered name of test runs: the same
// workflow, kept apart so that lists of journeys do not show them.
const WorkflowNameTest = "OnboardingTest"

// TestWorkflowID is a member's test run of a definition; a new test run
// replaces the last.
func TestWorkflowID(community, memberID string) string {
	return "onboarding-test/" + community + "/" + memberID
}

// Register adds the onboarding workflow and its activities to a worker.
func Register(r Registry, a *Activities) {
	r.RegisterWorkflowWithOptions(Workflow, workflowRegisterOptions())
	r.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowNameTest})
	r.RegisterActivity(a)
}

// Registry is the part of a Temporal worker Register uses.
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivity(a any)
}

func workflowRegisterOptions() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: WorkflowName}
}
