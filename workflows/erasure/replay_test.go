package erasure

import (
	"testing"

	"go.temporal.io/sdk/workflow"

	"github.com/kinshiphq/kinship/workflows/internal/replaytest"
)

// TestReplayRecordedHistories replays every recorded history, so a change
// that would break running erasures fails here (guard it with
// workflow.GetVersion instead).
func TestReplayRecordedHistories(t *testing.T) {
	replaytest.ReplayAll(t, Workflow, workflow.RegisterOptions{Name: WorkflowName}, 1, "go test -run TestErasureOnTheRealStack -record")
}
