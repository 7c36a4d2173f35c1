package onboarding

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// StartOptions are how every journey starts: the member's one workflow id,
// never reused, so neither a redelivered MemberJoined nor a repeated cohort
// start begins a second journey.
func StartOptions(community, memberID string, def Definition) client.StartWorkflowOptions {
	o := client.StartWorkflowOptions{
		ID:                       WorkflowID(community, memberID),
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without it the client answers a running journey's start with
		// that journey, and nobody can tell a repeat from a start.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}
	if len(def.Steps) > 0 {
		o.Memo = map[string]any{MemoStep: def.Steps[0].Type, MemoPaused: false}
	}
	return o
}

// Start starts a member's journey with def. It reports false, and no
// error, when the member has or had a journey.
func Start(ctx context.Context, c client.Client, community, memberID string, def Definition) (bool, error) {
	_, err := c.ExecuteWorkflow(ctx, StartOptions(community, memberID, def), WorkflowName,
		Input{Community: community, MemberID: memberID, Definition: &def})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("start onboarding journey of %s: %w", memberID, err)
	}
	return true, nil
}
