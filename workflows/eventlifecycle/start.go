package eventlifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
)

// StartFromScheduled starts the lifecycle of the event an EventScheduled
// announces, in the community's namespace (c). The workflow id is the
// event's and a finished lifecycle's id is never reused, so a redelivered
// event starts nothing (started is false).
func StartFromScheduled(ctx context.Context, c client.Client, e *eventsv1.EventScheduled, s Settings) (started bool, err error) {
	if e.GetCommunity() == "" || e.GetEventId() == "" {
		return false, errors.New("event lifecycle: EventScheduled without community or event id")
	}
	if err := s.Validate(); err != nil {
		return false, err
	}
	id := WorkflowID(e.GetCommunity(), e.GetEventId())
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without it the client hands back the existing run, and a
		// redelivery could not be told from a start.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, WorkflowName, Input{
		Community:   e.GetCommunity(),
		EventID:     e.GetEventId(),
		Occurrences: occurrences(e.GetOccurrences()),
		Settings:    s,
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

// SignalFromUpdated moves the lifecycle's timers to the event's new
// occurrence times. A change of status alone (completion) moves nothing
// and is not signalled. signalled is false when the event has no running
// lifecycle (it ended).
func SignalFromUpdated(ctx context.Context, c client.Client, e *eventsv1.EventUpdated) (signalled bool, err error) {
	if len(e.GetChanged()) > 0 && !slices.ContainsFunc(e.GetChanged(), func(path string) bool { return path != "status" }) {
		return false, nil
	}
	return signal(ctx, c, e.GetCommunity(), e.GetEventId(), SignalEventUpdated,
		Update{OccurrenceID: e.GetOccurrenceId(), Occurrences: occurrences(e.GetOccurrences())})
}

// SignalFromCancelled tells the lifecycle the event, or one occurrence,
// was cancelled.
func SignalFromCancelled(ctx context.Context, c client.Client, e *eventsv1.EventCancelled) (signalled bool, err error) {
	return signal(ctx, c, e.GetCommunity(), e.GetEventId(), SignalEventCancelled, Cancellation{OccurrenceID: e.GetOccurrenceId()})
}

// SignalFromSeatOffered hands the lifecycle a seat offer to announce and
// time.
func SignalFromSeatOffered(ctx context.Context, c client.Client, e *eventsv1.SeatOffered) (signalled bool, err error) {
	return signal(ctx, c, e.GetCommunity(), e.GetEventId(), SignalSeatOffered,
		SeatOffer{OccurrenceID: e.GetOccurrenceId(), MemberID: e.GetMemberId(), ExpiresAt: e.GetExpiresAt().AsTime().UTC()})
}

func signal(ctx context.Context, c client.Client, community, eventID, name string, payload any) (bool, error) {
	if community == "" || eventID == "" {
		return false, fmt.Errorf("event lifecycle: %s without community or event id", name)
	}
	id := WorkflowID(community, eventID)
	err := c.SignalWorkflow(ctx, id, "", name, payload)
	var missing *serviceerror.NotFound
	switch {
	case errors.As(err, &missing):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("signal %s to %s: %w", name, id, err)
	}
	return true, nil
}

func occurrences(times []*eventsv1.OccurrenceTimes) []Occurrence {
	out := make([]Occurrence, 0, len(times))
	for _, t := range times {
		out = append(out, Occurrence{ID: t.GetOccurrenceId(), Start: t.GetStartTime().AsTime().UTC(), End: t.GetEndTime().AsTime().UTC()})
	}
	return out
}
