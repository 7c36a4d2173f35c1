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
func StartOptions(community, memberID string, g Graph, version int) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       WorkflowID(community, memberID),
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without it the client answers a running journey's start with
		// that journey, and nobody can tell a repeat from a start.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		Memo:                                     map[string]any{MemoStep: g.start(), MemoPaused: false, MemoVersion: version},
	}
}

// Start starts a member's journey with version of the community's
// definition, g. It reports false, and no error, when the member has or
// had a journey. confirmed says the member's address is known to be
// confirmed (MemberJoined said so), which spares the journey asking.
func Start(ctx context.Context, c client.Client, community, memberID string, g Graph, version int, confirmed bool) (bool, error) {
	_, err := c.ExecuteWorkflow(ctx, StartOptions(community, memberID, g, version), WorkflowName,
		Input{Community: community, MemberID: memberID, Journey: &g, Version: version, AddressConfirmed: confirmed})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("start onboarding journey of %s: %w", memberID, err)
	}
	return true, nil
}

// StartTest starts a test run of version g for a member, with every
// message going to recipientID; it replaces the member's previous test
// run. It returns the test run's workflow id.
func StartTest(ctx context.Context, c client.Client, community, memberID, recipientID string, g Graph, version int) (string, error) {
	id := TestWorkflowID(community, memberID)
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING,
		Memo:                     map[string]any{MemoStep: g.start(), MemoPaused: false, MemoVersion: version},
	}, WorkflowNameTest, Input{Community: community, MemberID: memberID, Journey: &g, Version: version,
		Test: &TestRun{RecipientID: recipientID, MaxWait: DefaultTestWait}})
	if err != nil {
		return "", fmt.Errorf("start a test run for %s: %w", memberID, err)
	}
	return id, nil
}
