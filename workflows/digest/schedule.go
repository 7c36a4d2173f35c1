package digest

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Bounds of a scheduled digest.
const (
	// CatchupWindow is how late a digest still goes out when the server
	// could not start it on time; later ones are skipped.
	CatchupWindow = 6 * time.Hour
	// RunTimeout drops a digest that could not be sent within a day:
	// stale news is worse than none.
	RunTimeout = 24 * time.Hour
)

// EnsureSchedules makes community's digest schedule match s, in the
// community's namespace (c): it creates the schedule, or updates the one
// there, or deletes it when s is off. Zero settings mean
// DefaultSettings. Running it again with the same settings changes
// nothing, so every worker may call it at start.
func EnsureSchedules(ctx context.Context, c client.Client, community string, s Settings) error {
	if s == (Settings{}) {
		s = DefaultSettings()
	}
	if err := s.Validate(); err != nil {
		return err
	}
	id := ScheduleID(community)
	if s.Off {
		err := c.ScheduleClient().GetHandle(ctx, id).Delete(ctx)
		var missing *serviceerror.NotFound
		if err != nil && !errors.As(err, &missing) {
			return fmt.Errorf("delete digest schedule of %s: %w", community, err)
		}
		return nil
	}
	want := desired(community, s)
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: id, Spec: *want.Spec, Action: want.Action,
		Overlap: want.Policy.Overlap, CatchupWindow: want.Policy.CatchupWindow,
		Note: want.State.Note,
	})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		if err != nil {
			return fmt.Errorf("create digest schedule of %s: %w", community, err)
		}
		return nil
	}
	err = c.ScheduleClient().GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			next := in.Description.Schedule
			next.Spec, next.Action, next.Policy = want.Spec, want.Action, want.Policy
			return &client.ScheduleUpdate{Schedule: &next}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update digest schedule of %s: %w", community, err)
	}
	return nil
}

// desired is the schedule s asks for.
func desired(community string, s Settings) client.Schedule {
	return client.Schedule{
		Spec: &client.ScheduleSpec{
			Calendars: []client.ScheduleCalendarSpec{{
				DayOfWeek: []client.ScheduleRange{{Start: int(s.Day)}},
				Hour:      []client.ScheduleRange{{Start: s.Hour}},
				Minute:    []client.ScheduleRange{{Start: s.Minute}},
				Comment:   "weekly digest",
			}},
			TimeZoneName: s.TimeZone,
		},
		Action: &client.ScheduleWorkflowAction{
			ID:                       WorkflowIDPrefix(community),
			Workflow:                 WorkflowName,
			Args:                     []any{Input{Community: community, Template: s.Template}},
			TaskQueue:                TaskQueue,
			WorkflowExecutionTimeout: RunTimeout,
		},
		Policy: &client.SchedulePolicies{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: CatchupWindow},
		State:  &client.ScheduleState{Note: "managed by the Kinship worker from its digest settings"},
	}
}
