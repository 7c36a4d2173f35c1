package erasure

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// Decode reads a MemberErased event from members.v1.
func Decode(e kafka.Event) (*membersv1.MemberErased, error) {
	var m membersv1.MemberErased
	if err := kafka.Decode(e, memberevents.TypeMemberErased, &m); err != nil {
		return nil, err
	}
	if m.GetMemberId() == "" || m.GetCommunity() == "" {
		return nil, fmt.Errorf("decode MemberErased %s: member id or community missing", e.ID)
	}
	return &m, nil
}

// StartFromErased starts the erasure of the member e names, in the
// community's namespace (c). The workflow id is the member's: a
// redelivered event finds the erasure running or done and starts nothing
// (started is false). Only an erasure that failed may be started again.
func StartFromErased(ctx context.Context, c client.Client, e *membersv1.MemberErased) (started bool, err error) {
	community, memberID := e.GetCommunity(), e.GetMemberId()
	if community == "" || memberID == "" {
		return false, errors.New("erasure: MemberErased without community or member id")
	}
	id := WorkflowID(community, memberID)
	var erasedAt time.Time
	if at := e.GetErasedAt(); at != nil {
		erasedAt = at.AsTime().UTC()
	}
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without it the client hands back the existing run, and a
		// redelivery could not be told from a start.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, WorkflowName, Input{
		Community:         community,
		MemberID:          memberID,
		ErasedAt:          erasedAt,
		CancelWorkflowIDs: MemberWorkflowIDs(community, memberID),
	})
	var exists *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &exists):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("start %s: %w", id, err)
	}
	return true, nil
}

// Handle is the trigger's part for members.v1: it starts an erasure on
// MemberErased, in community's namespace (c), and skips other events.
// acted is false for a redelivery. An undecodable event, or one about
// another community than the one whose topic it came on, is a permanent
// failure, for the dead-letter topic.
func Handle(ctx context.Context, c client.Client, community string, e kafka.Event) (acted bool, err error) {
	if e.Type != memberevents.TypeMemberErased {
		return false, nil
	}
	m, err := Decode(e)
	if err != nil {
		return false, kafka.Permanent(err)
	}
	if m.GetCommunity() != community {
		return false, kafka.Permanent(fmt.Errorf("event %s on %s is about community %q", e.ID, e.Topic, m.GetCommunity()))
	}
	return StartFromErased(ctx, c, m)
}
