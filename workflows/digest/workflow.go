package digest

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kinshiphq/kinship/workflows/internal/activityerr"
)

// Input is what the schedule starts each run with.
type Input struct {
	Community string
	// Template is the communications template to send; empty means
	// DefaultTemplate.
	Template string
	// NominalTime, when set, stands in for the scheduled time (a run
	// started by hand); runs of the schedule take it from the
	// TemporalScheduledStartTime search attribute.
	NominalTime time.Time
}

// Result is the announcement a run made (or found already made).
type Result struct {
	AnnouncementID string
	IdempotencyKey string
	// Recipients is how many members the digest was queued for.
	Recipients int64
}

// ScheduledStartTime is the search attribute the server sets on every run
// of a schedule: the time it was scheduled for.
func ScheduledStartTime() temporal.SearchAttributeKeyTime {
	return temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")
}

// activityOptions bound digest activities: 30 s an attempt, retried with
// backoff for up to 12 hours; a refused request fails at once.
func activityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 12 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Minute,
			NonRetryableErrorTypes: activityerr.NonRetryable(),
		},
	}
}

// Workflow sends one community's digest for one scheduled time: it makes
// sure the template exists, then creates a digest announcement whose
// idempotency key is the scheduled time.
func Workflow(ctx workflow.Context, in Input) (Result, error) {
	if in.Community == "" {
		return Result{}, temporal.NewNonRetryableApplicationError("community is required", activityerr.InvalidRequest, nil)
	}
	if in.Template == "" {
		in.Template = DefaultTemplate
	}
	nominal := in.NominalTime
	if nominal.IsZero() {
		if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(ScheduledStartTime()); ok {
			nominal = t
		} else {
			nominal = workflow.GetInfo(ctx).WorkflowStartTime
		}
	}
	key := IdempotencyKey(in.Community, nominal)
	actx := workflow.WithActivityOptions(ctx, activityOptions())
	var a *Activities
	if err := workflow.ExecuteActivity(actx, a.EnsureDigestTemplate, TemplateInput{Community: in.Community, Template: in.Template}).Get(ctx, nil); err != nil {
		return Result{}, err
	}
	var res Result
	err := workflow.ExecuteActivity(actx, a.CreateDigest, DigestInput{Community: in.Community, Template: in.Template, IdempotencyKey: key}).Get(ctx, &res)
	if err != nil {
		return Result{}, err
	}
	workflow.GetLogger(ctx).Info("digest queued", "community", in.Community, "announcement_id", res.AnnouncementID,
		"recipients", res.Recipients, "scheduled_for", nominal.UTC())
	return res, nil
}
