// Package eventlifecycle runs one workflow per published event: it
// reminds members holding seats before each occurrence, offers freed seats
// to the waitlist one timed offer after another, asks attendees for
// feedback and marks no-shows after each occurrence ends, follows the
// event's changes, and tells members when it is cancelled.
package eventlifecycle

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TaskQueue is where event lifecycle workflows and activities run.
const TaskQueue = "event-lifecycle"

// WorkflowName is the registered name of the event lifecycle workflow.
const WorkflowName = "EventLifecycle"

// Signals a lifecycle receives from the events service's events.
const (
	// SignalEventUpdated carries an Update: occurrences moved, added or
	// removed.
	SignalEventUpdated = "event-updated"
	// SignalEventCancelled carries a Cancellation: of the event, or of
	// one occurrence.
	SignalEventCancelled = "event-cancelled"
	// SignalSeatOffered carries a SeatOffer: a freed seat held for a
	// member of the waitlist until it expires.
	SignalSeatOffered = "seat-offered"
)

// QueryState returns the lifecycle's State: every occurrence's steps, the
// open seat offers and when it next acts.
const QueryState = "state"

// WorkflowID is the one lifecycle of an event. Starting it twice fails, so
// a redelivered EventScheduled cannot start a second one.
func WorkflowID(community, eventID string) string {
	return "event-lifecycle/" + community + "/" + eventID
}

// Register adds the event lifecycle workflow and its activities to a
// worker.
func Register(r worker.Registry, a *Activities) {
	r.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	r.RegisterActivity(a)
}
