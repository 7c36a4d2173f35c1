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
)

// QueryState returns the journey's State.
const QueryState = "state"

// Memo keys a journey keeps current, for listing journeys without
// querying each.
const (
	MemoStep    = "step"
	MemoPaused  = "paused"
	MemoOutcome = "outcome"
)

// WorkflowID is the one journey a member has in a community. Starting it
// twice fails, so a redelivered MemberJoined cannot start a second journey.
func WorkflowID(community, memberID string) string {
	return "onboarding/" + community + "/" + memberID
}

// Register adds the onboarding workflow and its activities to a worker.
func Register(r Registry, a *Activities) {
	r.RegisterWorkflowWithOptions(Workflow, workflowRegisterOptions())
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
