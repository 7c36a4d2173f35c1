package onboarding

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Input starts a journey.
type Input struct {
	Community string
	MemberID  string
	// ReminderAfter is how long after the welcome a member who has not
	// completed their profile is reminded; 0 means DefaultReminderAfter.
	ReminderAfter time.Duration
	// GiveUpAfter is how long after the welcome the journey stops waiting;
	// 0 means DefaultGiveUpAfter.
	GiveUpAfter time.Duration
}

// Defaults of Input.
const (
	DefaultReminderAfter = 48 * time.Hour
	DefaultGiveUpAfter   = 30 * 24 * time.Hour
)

// Steps a journey goes through.
const (
	StepWelcome         = "welcome"
	StepCompleteProfile = "complete-profile"
	StepDone            = "done"
)

// Outcomes of a journey.
const (
	OutcomeProfileCompleted = "profile-completed"
	OutcomeGaveUp           = "gave-up"
)

// State is what the state query returns.
type State struct {
	Step             string
	WelcomeSent      bool
	ReminderSent     bool
	ProfileCompleted bool
	// NextDeadline is when the journey next acts on its own.
	NextDeadline time.Time
}

// Result is how a journey ended.
type Result struct {
	Outcome string
}

// MessageInput names the member an onboarding message goes to.
type MessageInput struct {
	Community  string
	MemberID   string
	WorkflowID string
}

// activityOptions bound every onboarding activity: each attempt has 30 s,
// retries back off to 5 minutes for up to a day, and errors that retrying
// cannot fix end the attempt at once.
func activityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        5 * time.Minute,
			NonRetryableErrorTypes: []string{ErrTypeMemberNotFound, ErrTypeMessageRefused, ErrTypeInvalidRequest},
		},
	}
}

// Workflow runs one member's onboarding journey.
func Workflow(ctx workflow.Context, in Input) (Result, error) {
	if in.Community == "" || in.MemberID == "" {
		return Result{}, temporal.NewNonRetryableApplicationError("community and member id are required", ErrTypeInvalidRequest, nil)
	}
	reminderAfter, giveUpAfter := in.ReminderAfter, in.GiveUpAfter
	if reminderAfter <= 0 {
		reminderAfter = DefaultReminderAfter
	}
	if giveUpAfter <= 0 {
		giveUpAfter = DefaultGiveUpAfter
	}
	logger := workflow.GetLogger(ctx)
	state := State{Step: StepWelcome}
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
			state.ProfileCompleted = outcome == OutcomeProfileCompleted
			state.NextDeadline = time.Time{}
			logger.Info("onboarding journey ended", "member_id", in.MemberID, "outcome", outcome)
			return Result{Outcome: outcome}, nil
		}
	}
}
