package journeystack

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"
)

// ReplayAndKeep replays the history of a workflow run the stack ran with
// the workflow fn registered as name, and — when the test binary runs with
// -record — writes it to testdata/file for the package's replay test.
func (s *Stack) ReplayAndKeep(t *testing.T, workflowID, runID string, fn any, name, file string) {
	t.Helper()
	h := &historypb.History{}
	iter := s.Temporal.GetWorkflowHistory(context.Background(), workflowID, runID, false, 0)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	if err := r.ReplayWorkflowHistory(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)), h); err != nil {
		t.Fatalf("%s does not replay its own history: %v", workflowID, err)
	}
	if f := flag.Lookup("record"); f == nil || f.Value.String() != "true" {
		return
	}
	raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", file), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events in testdata/%s", len(h.Events), file)
}
