// Package onboarding is a new member's onboarding journey: a welcome
// e-mail, then a wait for the member to complete their profile, with a
// reminder when they take long.
package onboarding

import "go.temporal.io/sdk/workflow"

// TaskQueue is where onboarding workflows and activities run.
const TaskQueue = "onboarding"

// WorkflowName is the registered name of the onboarding workflow.
const WorkflowName = "Onboarding"

// SignalProfileCompleted tells a journey that the member completed their
// profile.
const SignalProfileCompleted = "profile-completed"

// QueryState returns the journey's State.
const QueryState = "state"

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
