package ambassador

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// ErrInProgramme means the member is a candidate or an ambassador already.
var ErrInProgramme = errors.New("the member is in the ambassador programme already")

// Nominate starts a member's candidacy under version of the community's
// programme, p. A member whose earlier candidacy ended may be nominated
// again; one in the programme may not.
func Nominate(ctx context.Context, c client.Client, community, memberID string, n Nomination, p Programme, version int) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       WorkflowID(community, memberID),
		TaskQueue:                                TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		Memo:                                     map[string]any{MemoStage: StageEligibility, MemoCycle: 0, MemoBuddies: 0},
	}, WorkflowName, Input{Community: community, MemberID: memberID, Nomination: n, Programme: p, ProgrammeVersion: version})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		return ErrInProgramme
	case err != nil:
		return fmt.Errorf("nominate %s: %w", memberID, err)
	}
	return nil
}
