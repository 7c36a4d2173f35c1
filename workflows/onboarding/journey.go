package onboarding

import (
	"errors"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kinshiphq/kinship/workflows/internal/flow"
)

// journey runs a journey from its Definition: each step in turn, with the
// signals that arrive at any time folded into its state.
type journey struct {
	ctx    workflow.Context
	actx   workflow.Context
	in     Input
	def    Definition
	id     string
	logger log.Logger
	state  State
	// stepStart is when the current step began, moved later by the time
	// the journey spent paused, so pausing stops the step's clock.
	stepStart time.Time
	pausedAt  time.Time
	// skip holds the step types an organiser asked to skip.
	skip map[string]bool
}

func newJourney(ctx workflow.Context, in Input, def Definition) *journey {
	j := &journey{
		ctx: ctx, actx: workflow.WithActivityOptions(ctx, activityOptions()),
		in: in, def: def, id: workflow.GetInfo(ctx).WorkflowExecution.ID,
		logger: workflow.GetLogger(ctx), skip: map[string]bool{},
	}
	j.state = State{Version: 2, Status: StatusRunning, Step: def.Steps[0].Type}
	for _, s := range def.Steps {
		j.state.Steps = append(j.state.Steps, s.Type)
	}
	return j
}

func (j *journey) run() (Result, error) {
	if err := workflow.SetQueryHandler(j.ctx, QueryState, func() (State, error) { return j.state, nil }); err != nil {
		return Result{}, err
	}
	j.listen()
	if workflow.GetVersion(j.ctx, changeAwaitConfirmation, workflow.DefaultVersion, 1) == 1 {
		if err := j.awaitConfirmation(); err != nil {
			return j.stop(err)
		}
		if j.state.Outcome != "" {
			return j.finish()
		}
	}
	for i, s := range j.def.Steps {
		if err := j.runStep(i, s); err != nil {
			return j.stop(err)
		}
		if j.state.Outcome != "" {
			break // lapsed
		}
	}
	if err := j.holdWhilePaused(); err != nil {
		return j.stop(err)
	}
	if j.state.Outcome == "" {
		if err := j.recordOnboarded(); err != nil {
			return j.stop(err)
		}
		j.state.Outcome = OutcomeOnboarded
	}
	return j.finish()
}

// stop ends the journey on an error: a member who is gone ends it
// quietly, a cancellation cleans up, anything else fails it.
func (j *journey) stop(err error) (Result, error) {
	switch {
	case temporal.IsCanceledError(err):
		ctx, _ := workflow.NewDisconnectedContext(j.ctx)
		j.state.Status, j.state.Step, j.state.NextDeadline = StatusCancelled, StepDone, time.Time{}
		j.note(StepDone, EventEnded, StatusCancelled)
		j.releaseBuddy(ctx)
		j.logger.Info("onboarding journey cancelled", "member_id", j.in.MemberID)
		return Result{}, err
	case isType(err, ErrTypeMemberNotFound):
		j.state.Outcome = OutcomeMemberGone
		return j.finish()
	}
	return Result{}, err
}

func (j *journey) finish() (Result, error) {
	j.releaseBuddy(j.ctx)
	j.state.Status, j.state.Step, j.state.NextDeadline = StatusCompleted, StepDone, time.Time{}
	j.note(StepDone, EventEnded, j.state.Outcome)
	j.upsertMemo()
	j.logger.Info("onboarding journey ended", "member_id", j.in.MemberID, "outcome", j.state.Outcome)
	return Result{Outcome: j.state.Outcome}, nil
}

// runStep runs step i and records how it ended.
func (j *journey) runStep(i int, s Step) error {
	if err := j.holdWhilePaused(); err != nil {
		return err
	}
	j.state.StepIndex, j.state.Step = i, s.Type
	j.stepStart = workflow.Now(j.ctx)
	j.note(s.Type, EventStarted, "")
	j.upsertMemo()
	outcome := StepSkipped
	var err error
	if !j.skip[s.Type] {
		switch s.Type {
		case StepWelcome:
			outcome, err = j.welcome()
		case StepCompleteProfile:
			outcome, err = j.completeProfile(s)
		case StepSuggestEvent:
			outcome, err = j.suggestEvent(s)
		case StepAssignBuddy:
			outcome, err = j.assignBuddy()
		case StepFirstAttendance:
			outcome, err = j.firstAttendance(s)
		}
	}
	if err != nil {
		return err
	}
	j.state.NextDeadline = time.Time{}
	j.note(s.Type, EventEnded, outcome)
	return nil
}

// holdWhilePaused waits for a paused journey to be resumed.
func (j *journey) holdWhilePaused() error {
	if !j.state.Paused {
		return nil
	}
	j.state.NextDeadline = time.Time{}
	return workflow.Await(j.ctx, func() bool { return !j.state.Paused })
}

type waitResult int

const (
	waitDone waitResult = iota
	waitSkipped
	waitDeadline
)

// await waits until done holds, the step is skipped, or deadline passes.
// deadline is asked again after every pause, since resuming moves it.
func (j *journey) await(deadline func() time.Time, done func() bool) (waitResult, error) {
	step := j.state.Step
	for {
		switch {
		case j.skip[step]:
			return waitSkipped, nil
		case done():
			return waitDone, nil
		case j.state.Paused:
			j.state.NextDeadline = time.Time{}
			if err := workflow.Await(j.ctx, func() bool { return !j.state.Paused || j.skip[step] }); err != nil {
				return 0, err
			}
			continue
		}
		d, now := deadline(), workflow.Now(j.ctx)
		if !now.Before(d) {
			return waitDeadline, nil
		}
		j.state.NextDeadline = d
		if err := flow.AwaitOrTimer(j.ctx, d.Sub(now), func() bool { return j.state.Paused || j.skip[step] || done() }); err != nil {
			return 0, err
		}
	}
}

// note appends to the journey's history.
func (j *journey) note(step, event, detail string) {
	if len(j.state.History) >= maxHistory {
		j.state.History = j.state.History[1:]
	}
	j.state.History = append(j.state.History, Entry{At: workflow.Now(j.ctx), Step: step, Event: event, Detail: detail})
}

// upsertMemo keeps the step, pause and outcome listable.
func (j *journey) upsertMemo() {
	memo := map[string]any{MemoStep: j.state.Step, MemoPaused: j.state.Paused}
	if j.state.Outcome != "" {
		memo[MemoOutcome] = j.state.Outcome
	}
	if err := workflow.UpsertMemo(j.ctx, memo); err != nil {
		j.logger.Warn("cannot update the journey's memo", "error", err)
	}
}

// isType reports whether err is an application error of type typ.
func isType(err error, typ string) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == typ
}
