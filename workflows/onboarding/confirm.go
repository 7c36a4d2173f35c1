package onboarding

import (
	"context"
	"time"

	"go.temporal.io/sdk/workflow"
)

// awaitConfirmation holds the journey, before any e-mail, until the
// member's address is confirmed: at once for a member the community's
// team added (their address is vouched for), on SignalEmailConfirmed for
// one who joined publicly. After ConfirmationWait the journey ends as
// OutcomeUnconfirmed. Pausing stops the wait's clock like any step's.
func (j *journey) awaitConfirmation() error {
	var a *Activities
	var confirmed bool
	if err := workflow.ExecuteActivity(j.actx, a.AddressConfirmed, j.message("", "")).Get(j.ctx, &confirmed); err != nil {
		return err
	}
	if confirmed || j.state.EmailConfirmed {
		j.state.EmailConfirmed = true
		return nil
	}
	j.state.Step = StepConfirmEmail
	j.stepStart = workflow.Now(j.ctx)
	j.note(StepConfirmEmail, EventStarted, "")
	j.upsertMemo()
	res, err := j.await(func() time.Time { return j.stepStart.Add(ConfirmationWait) }, func() bool { return j.state.EmailConfirmed })
	if err != nil {
		return err
	}
	j.state.NextDeadline = time.Time{}
	if res != waitDone {
		j.note(StepConfirmEmail, EventEnded, StepTimedOut)
		j.state.Outcome = OutcomeUnconfirmed
		return nil
	}
	j.note(StepConfirmEmail, EventEnded, StepCompleted)
	return nil
}

// AddressConfirmed reports whether the member's address is confirmed, or
// was vouched for by the team that added them.
func (a *Activities) AddressConfirmed(ctx context.Context, in MessageInput) (bool, error) {
	m, err := a.member(ctx, in.Community, in.MemberID)
	if err != nil {
		return false, err
	}
	return m.GetEmailVerified(), nil
}
