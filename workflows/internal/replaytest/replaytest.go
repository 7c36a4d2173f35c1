// Package replaytest keeps workflows replayable: it reads a run's history
// from a real server, replays it, records it in testdata/ and replays
// every recorded history, so that a change that would break running
// workflows fails the tests (guard such a change with workflow.GetVersion).
package replaytest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"
)

// Logger is a Temporal logger that discards everything.
func Logger() tlog.Logger { return tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)) }

// History reads a workflow run's history (the latest run when runID is
// empty).
func History(t *testing.T, c client.Client, workflowID, runID string) *historypb.History {
	t.Helper()
	h := &historypb.History{}
	iter := c.GetWorkflowHistory(context.Background(), workflowID, runID, false, 0)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	return h
}

// replayer replays the workflow fn registered with opts.
func replayer(fn any, opts workflow.RegisterOptions) worker.WorkflowReplayer {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(fn, opts)
	return r
}

// Keep replays h, which a real server produced, as the workflow fn
// registered with opts and, when record is set, writes it as JSON to path
// for ReplayAll.
func Keep(t *testing.T, fn any, opts workflow.RegisterOptions, h *historypb.History, path string, record bool) {
	t.Helper()
	if err := replayer(fn, opts).ReplayWorkflowHistory(Logger(), h); err != nil {
		t.Fatalf("the workflow does not replay its own history: %v", err)
	}
	if !record {
		return
	}
	raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events in %s", len(h.Events), path)
}

// ReplayAll replays every history in testdata/*.json as the workflow fn
// registered with opts, and fails when there are fewer than atLeast; how
// says how to record them.
func ReplayAll(t *testing.T, fn any, opts workflow.RegisterOptions, atLeast int, how string) {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < atLeast {
		t.Fatalf("%d recorded histories in testdata/ (%v), want at least %d; record them with %s", len(files), files, atLeast, how)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := replayer(fn, opts).ReplayWorkflowHistoryFromJSONFile(Logger(), f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// WaitFor polls cond until it holds, failing the test with what when ctx
// ends first.
func WaitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("%s: not within the deadline", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
