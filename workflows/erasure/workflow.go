package erasure

import (
	"errors"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kinshiphq/kinship/workflows/internal/activityerr"
)

// Input starts one member's erasure.
type Input struct {
	Community string
	MemberID  string
	// ErasedAt is when the members service erased the member.
	ErasedAt time.Time
	// CancelWorkflowIDs are the member's other workflows to cancel
	// (MemberWorkflowIDs); those not running are skipped.
	CancelWorkflowIDs []string
	// RetryRefusedAfter is how long the workflow waits before asking a
	// store that refused (bad credentials, a community it does not
	// serve) again; 0 means DefaultRetryRefusedAfter.
	RetryRefusedAfter time.Duration
	// MaxRefusals is how often a store may refuse before the erasure
	// fails, listing it; 0 means DefaultMaxRefusals.
	MaxRefusals int
}

// Defaults of Input.
const (
	DefaultRetryRefusedAfter = time.Hour
	DefaultMaxRefusals       = 24
)

// ErrTypeIncomplete fails an erasure that some store kept refusing.
const ErrTypeIncomplete = "ErasureIncomplete"

// ForgetInput names the member a store is to forget.
type ForgetInput struct {
	Community string
	MemberID  string
}

// activityOptions: each call has 30 s; an unavailable service is retried
// with backoff up to every 10 minutes, without limit, until it confirms.
// A refusal ends the attempt at once and the workflow asks again later.
func activityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Minute,
			NonRetryableErrorTypes: activityerr.NonRetryable(),
		},
	}
}

// Workflow erases one member everywhere: it requests cancellation of the
// member's other workflows, then asks communications, events and partners
// to forget the member, in parallel, until each confirms. It returns the
// receipt.
func Workflow(ctx workflow.Context, in Input) (Receipt, error) {
	if in.Community == "" || in.MemberID == "" {
		return Receipt{}, temporal.NewNonRetryableApplicationError("community and member id are required", activityerr.InvalidRequest, nil)
	}
	if in.RetryRefusedAfter <= 0 {
		in.RetryRefusedAfter = DefaultRetryRefusedAfter
	}
	if in.MaxRefusals <= 0 {
		in.MaxRefusals = DefaultMaxRefusals
	}
	if in.ErasedAt.IsZero() { // the event did not say: the members service erased them before now
		in.ErasedAt = workflow.Now(ctx)
	}
	logger := workflow.GetLogger(ctx)
	var a *Activities
	stores := []struct {
		name     string
		activity any
	}{
		{StoreCommunications, a.ForgetInCommunications},
		{StoreEvents, a.ForgetInEvents},
		{StorePartners, a.ForgetInPartners},
	}
	receipt := Receipt{Community: in.Community, MemberID: in.MemberID,
		Stores: []StoreReceipt{{Store: StoreMembers, ConfirmedAt: in.ErasedAt}}}
	for _, s := range stores {
		receipt.Stores = append(receipt.Stores, StoreReceipt{Store: s.name})
	}
	if err := workflow.SetQueryHandler(ctx, QueryReceipt, func() (Receipt, error) { return receipt, nil }); err != nil {
		return Receipt{}, err
	}

	receipt.Workflows = cancelOthers(ctx, in.CancelWorkflowIDs)

	actx := workflow.WithActivityOptions(ctx, activityOptions())
	forget := ForgetInput{Community: in.Community, MemberID: in.MemberID}
	wg := workflow.NewWaitGroup(ctx)
	var failed []string
	var failure error
	for i, s := range stores {
		entry := &receipt.Stores[i+1]
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			if err := untilConfirmed(ctx, actx, s.activity, forget, entry, in); err != nil {
				failed = append(failed, s.name)
				if failure == nil {
					failure = err
				}
			}
		})
	}
	wg.Wait(ctx)
	if err := ctx.Err(); err != nil { // the erasure itself was cancelled
		return receipt, err
	}
	if len(failed) > 0 {
		logger.Warn("erasure incomplete", "community", in.Community, "member_id", in.MemberID, "stores", strings.Join(failed, ","))
		return receipt, temporal.NewNonRetryableApplicationError("erasure incomplete: "+strings.Join(failed, ", ")+" did not confirm",
			ErrTypeIncomplete, failure, receipt)
	}
	receipt.CompletedAt = workflow.Now(ctx)
	logger.Info("member erased everywhere", "community", in.Community, "member_id", in.MemberID, "stores", len(receipt.Stores))
	return receipt, nil
}

// cancelOthers requests cancellation of each workflow, all at once, and
// reports what became of each; one that does not exist or has ended is
// not running, which is as good. A request that fails is reported and
// does not hold the erasure up.
func cancelOthers(ctx workflow.Context, ids []string) []WorkflowOutcome {
	futures := make([]workflow.Future, len(ids))
	for i, id := range ids {
		futures[i] = workflow.RequestCancelExternalWorkflow(ctx, id, "")
	}
	out := make([]WorkflowOutcome, len(ids))
	for i, f := range futures {
		out[i] = WorkflowOutcome{WorkflowID: ids[i], Outcome: OutcomeCancelRequested}
		err := f.Get(ctx, nil)
		var unknown *temporal.UnknownExternalWorkflowExecutionError
		switch {
		case errors.As(err, &unknown):
			out[i].Outcome = OutcomeNotRunning
		case err != nil:
			workflow.GetLogger(ctx).Warn("could not cancel a workflow of the erased member", "workflow_id", ids[i], "error", err)
			out[i].Outcome = OutcomeCancelFailed
		}
	}
	return out
}

// untilConfirmed asks one store to forget the member until it confirms.
// Unavailability is retried by the activity's policy; a refusal waits
// in.RetryRefusedAfter and asks again, up to in.MaxRefusals times.
func untilConfirmed(ctx, actx workflow.Context, activity any, forget ForgetInput, entry *StoreReceipt, in Input) error {
	for {
		var confirmed StoreReceipt
		err := workflow.ExecuteActivity(actx, activity, forget).Get(ctx, &confirmed)
		if err == nil {
			name, refusals := entry.Store, entry.Refusals
			*entry = confirmed
			entry.Store, entry.Refusals = name, refusals
			return nil
		}
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || !app.NonRetryable() {
			return err
		}
		entry.Refused, entry.Refusals = app.Type(), entry.Refusals+1
		workflow.GetLogger(ctx).Warn("a store refused to forget the member; asking again later", "store", entry.Store,
			"member_id", forget.MemberID, "refused", app.Type(), "refusals", entry.Refusals)
		if entry.Refusals >= in.MaxRefusals {
			return err
		}
		if err := workflow.Sleep(ctx, in.RetryRefusedAfter); err != nil {
			return err
		}
	}
}
