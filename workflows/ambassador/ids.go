// Package ambassador is the ambassador programme, one workflow per
// candidate: nomination (checked against engagement), review with
// escalation, training with deadlines, activation, an active cycle of
// monthly check-ins and quota reviews that promote or demote, a yearly
// renewal that continues as new, and offboarding. The workflow also keeps
// the ambassador's buddies within their tier's capacity.
package ambassador

import "go.temporal.io/sdk/workflow"

// TaskQueue is where ambassador workflows and activities run.
const TaskQueue = "ambassador"

// WorkflowName is the registered name of the programme workflow.
const WorkflowName = "AmbassadorProgramme"

// Signals the workflow reacts to.
const (
	// SignalReview carries a Review.
	SignalReview = "review"
	// SignalTaskCompleted carries a TaskDone.
	SignalTaskCompleted = "task-completed"
	// SignalOffboard ends an ambassadorship (or a candidacy) with thanks.
	SignalOffboard = "offboard"
	// SignalReleaseBuddy carries a BuddyRequest: the member's journey ended.
	SignalReleaseBuddy = "release-buddy"
	// SignalActivityRecorded carries an ActivityCounted: the trigger sends
	// it for activities of the types the community's quotas count, so a
	// review counts every one of them, however busy the ledger.
	SignalActivityRecorded = "activity-recorded"
)

// UpdateReserveBuddy asks an active ambassador to buddy a member; it
// carries a BuddyRequest and is rejected (ErrTypeNoRoom) when they cannot.
const UpdateReserveBuddy = "reserve-buddy"

// QueryState returns the candidate's State.
const QueryState = "state"

// Memo keys kept current for the roster.
const (
	MemoStage   = "stage"
	MemoTier    = "tier"
	MemoBuddies = "buddies"
	MemoCycle   = "cycle"
	MemoOutcome = "outcome"
)

// WorkflowID is a member's one place in the programme of a community.
func WorkflowID(community, memberID string) string {
	return "ambassador/" + community + "/" + memberID
}

// Register adds the programme workflow and its activities to a worker.
func Register(r Registry, a *Activities) {
	r.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	r.RegisterActivity(a)
}

// Registry is the part of a Temporal worker Register uses.
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivity(a any)
}
