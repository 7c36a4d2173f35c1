package subjectaccess

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/kinshiphq/kinship/workflows/erasure"
)

// workflowState is one of the member's workflows as the archive shows it.
type workflowState struct {
	WorkflowID string     `json:"workflow_id"`
	RunID      string     `json:"run_id"`
	Type       string     `json:"type"`
	Status     string     `json:"status"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	// HistoryLength is how many events the run's history holds.
	HistoryLength int64 `json:"history_length"`
}

// MemberWorkflowIDs are the workflows that are one member's own: their
// onboarding journey and ambassador programme, and their erasure.
func MemberWorkflowIDs(community, memberID string) []string {
	return append(erasure.MemberWorkflowIDs(community, memberID), erasure.WorkflowID(community, memberID))
}

// journeys describes the member's workflows in community's namespace: each
// that exists, with its type and state; one that never ran is left out.
func journeys(ctx context.Context, c client.Client, community, memberID string) ([]workflowState, error) {
	out := []workflowState{}
	for _, id := range MemberWorkflowIDs(community, memberID) {
		res, err := c.DescribeWorkflowExecution(ctx, id, "")
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", id, err)
		}
		info := res.GetWorkflowExecutionInfo()
		w := workflowState{WorkflowID: id, RunID: info.GetExecution().GetRunId(), Type: info.GetType().GetName(), Status: info.GetStatus().String(),
			HistoryLength: info.GetHistoryLength()}
		if t := info.GetStartTime(); t != nil {
			at := t.AsTime().UTC()
			w.StartedAt = &at
		}
		if t := info.GetCloseTime(); t != nil {
			at := t.AsTime().UTC()
			w.ClosedAt = &at
		}
		out = append(out, w)
	}
	return out, nil
}
