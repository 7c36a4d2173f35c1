// Package erasure carries a member's erasure to every service that holds
// data about them, once the members service has erased them itself: it
// stops the member's other workflows, asks each service to forget the
// member until each confirms, and leaves a receipt of which stores
// confirmed when — ids and counts only, no personal data.
package erasure

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// TaskQueue is where erasure workflows and activities run.
const TaskQueue = "erasure"

// WorkflowName is the registered name of the erasure workflow.
const WorkflowName = "Erasure"

// QueryReceipt returns the Receipt so far: the stores that confirmed, and
// those still pending with why.
const QueryReceipt = "receipt"

// WorkflowID is the one erasure of a member. A redelivered MemberErased
// finds it and starts nothing.
func WorkflowID(community, memberID string) string {
	return "erasure/" + community + "/" + memberID
}

// MemberWorkflowIDs are the ids of the member's other workflows, which
// the erasure cancels; ones that do not exist (any more) are skipped.
// Each workflow package that keeps per-member workflows adds its id here.
func MemberWorkflowIDs(community, memberID string) []string {
	return []string{
		onboarding.WorkflowID(community, memberID),
		ambassador.WorkflowID(community, memberID),
	}
}

// Register adds the erasure workflow and its activities to a worker.
func Register(r worker.Registry, a *Activities) {
	r.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	r.RegisterActivity(a)
}
