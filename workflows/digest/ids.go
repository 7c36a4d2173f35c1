// Package digest sends each community its weekly digest — upcoming events
// for every member who wants it — from a Temporal Schedule, once per
// scheduled time however often a run is retried.
package digest

import (
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TaskQueue is where digest workflows and activities run.
const TaskQueue = "digest"

// WorkflowName is the registered name of the digest workflow.
const WorkflowName = "WeeklyDigest"

// ScheduleID is the one digest schedule of a community.
func ScheduleID(community string) string { return "digest/" + community }

// WorkflowIDPrefix is the id the schedule gives its runs; the server
// appends the scheduled time, such as "digest/demo-2026-03-16T09:00:00Z".
func WorkflowIDPrefix(community string) string { return "digest/" + community }

// IdempotencyKey names the digest of one scheduled time: every run for it
// — a retry, a second attempt after a failure — makes the same
// announcement, so members get it once.
func IdempotencyKey(community string, nominal time.Time) string {
	return "digest/" + community + "/" + nominal.UTC().Format(time.RFC3339)
}

// Register adds the digest workflow and its activities to a worker.
func Register(r worker.Registry, a *Activities) {
	r.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	r.RegisterActivity(a)
}
