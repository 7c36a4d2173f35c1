package onboarding

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The first journey (version DefaultVersion of changeDefinedJourney): a
// welcome, one profile reminder, and a wait for the profile that ends the
// journey. Journeys started before definitions existed still run it, so it
// must not change: TestReplayRecordedHistories replays one of them.

// Defaults of the first journey's Input.
const (
	DefaultReminderAfter = 48 * time.Hour
	DefaultGiveUpAfter   = 30 * 24 * time.Hour
)

// Outcomes of the first journey.
const (
	OutcomeProfileCompleted = "profile-completed"
	OutcomeGaveUp           = "gave-up"
)

// legacyJourney runs a journey of the first version.
func legacyJourney(ctx workflow.Context, in Input) (Result, error) {
	reminderAfter, giveUpAfter := in.ReminderAfter, in.GiveUpAfter
	if reminderAfter <= 0 {
		reminderAfter = DefaultReminderAfter
	}
	if giveUpAfter <= 0 {
		giveUpAfter = DefaultGiveUpAfter
	}
	logger := workflow.GetLogger(ctx)
	state := State{Version: 1, Status: StatusRunning, Step: StepWelcome}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) { return state, nil }); err != nil {
		return Result{}, err
	}
	msg := MessageInput{Community: in.Community, MemberID: in.MemberID, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID}
	actx := workflow.WithActivityOptions(ctx, activityOptions())
	var a *Activities

	if err := workflow.ExecuteActivity(actx, a.SendWelcome, msg).Get(ctx, nil); err != nil {
		return Result{}, err
	}
	state.WelcomeSent = true
	state.Step = StepCompleteProfile
	welcomed := workflow.Now(ctx)

	timerCtx, cancelTimers := workflow.WithCancel(ctx)
	defer cancelTimers()
	reminder := workflow.NewTimer(timerCtx, reminderAfter)
	giveUp := workflow.NewTimer(timerCtx, giveUpAfter)
	state.NextDeadline = welcomed.Add(reminderAfter)
	completed := workflow.GetSignalChannel(ctx, SignalProfileCompleted)

	for {
		outcome := ""
		var reminderErr error
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(completed, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			outcome = OutcomeProfileCompleted
		})
		if !state.ReminderSent {
			sel.AddFuture(reminder, func(f workflow.Future) {
				if err := f.Get(ctx, nil); err != nil {
					return
				}
				logger.Info("member has not completed their profile; reminding", "member_id", in.MemberID)
				reminderErr = workflow.ExecuteActivity(actx, a.SendProfileReminder, msg).Get(ctx, nil)
				state.ReminderSent = true
				state.NextDeadline = welcomed.Add(giveUpAfter)
			})
		}
		sel.AddFuture(giveUp, func(workflow.Future) { outcome = OutcomeGaveUp })
		sel.Select(ctx)

		var refused *temporal.ApplicationError
		if reminderErr != nil && !(errors.As(reminderErr, &refused) && refused.Type() == ErrTypeMessageRefused) {
			return Result{}, reminderErr
		}
		if outcome != "" {
			state.Step = StepDone
			state.Status = StatusCompleted
			state.Outcome = outcome
			state.ProfileCompleted = outcome == OutcomeProfileCompleted
			state.NextDeadline = time.Time{}
			logger.Info("onboarding journey ended", "member_id", in.MemberID, "outcome", outcome)
			return Result{Outcome: outcome}, nil
		}
	}
}
