package onboarding

import (
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/kinshiphq/kinship/workflows/internal/flow"
)

// awaitConfirmation holds the journey, before any e-mail, until the
// member's address is confirmed, as the fixed journey does.
func (j *graphJourney) awaitConfirmation() error {
	if j.in.AddressConfirmed {
		j.state.EmailConfirmed = true
		return nil
	}
	var a *Activities
	var confirmed bool
	if err := workflow.ExecuteActivity(j.actx, a.AddressConfirmed, MessageInput{Community: j.in.Community, MemberID: j.in.MemberID, WorkflowID: j.id}).Get(j.ctx, &confirmed); err != nil {
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
	// Restarts and migrations wait for the confirmation too; a pause
	// stops the wait's clock.
	for !j.state.EmailConfirmed {
		if j.state.Paused {
			j.state.NextDeadline = time.Time{}
			if err := workflow.Await(j.ctx, func() bool { return !j.state.Paused }); err != nil {
				return err
			}
			continue
		}
		d, now := j.stepStart.Add(ConfirmationWait), workflow.Now(j.ctx)
		if !now.Before(d) {
			break
		}
		j.state.NextDeadline = d
		if err := flow.AwaitOrTimer(j.ctx, d.Sub(now), func() bool { return j.state.Paused || j.state.EmailConfirmed }); err != nil {
			return err
		}
	}
	j.state.NextDeadline = time.Time{}
	if !j.state.EmailConfirmed {
		j.note(StepConfirmEmail, EventEnded, StepTimedOut)
		j.state.Outcome = OutcomeUnconfirmed
		return nil
	}
	j.note(StepConfirmEmail, EventEnded, StepCompleted)
	return nil
}

// send sends template to the member (to the organiser in a test run). A
// refusal — by the mail server, or of a template the community no longer
// has — is noted and the journey goes on.
func (j *graphJourney) send(n Node, template string) (string, error) {
	var a *Activities
	err := workflow.ExecuteActivity(j.actx, a.SendTemplate, j.message(template)).Get(j.ctx, nil)
	return j.sent(n, template, err)
}

// sent judges a message activity's error.
func (j *graphJourney) sent(n Node, template string, err error) (string, error) {
	switch {
	case isType(err, ErrTypeMessageRefused):
		j.note(n.ID, EventNote, "the mail server refused "+template)
		return StepRefused, nil
	case isType(err, ErrTypeInvalidRequest):
		j.note(n.ID, EventNote, "the communications service refused "+template)
		return StepRefused, nil
	case err != nil:
		return "", err
	}
	return StepCompleted, nil
}

// TimeOfDayInput asks when a time of day next comes in the member's time
// zone.
type TimeOfDayInput struct {
	Community string
	MemberID  string
	// At is "HH:MM".
	At    string
	After time.Time
}

// wait waits for a duration, or until the time of day in the member's
// time zone; a pause moves the end later by as long as it lasted.
func (j *graphJourney) wait(n Node) (string, error) {
	length := n.For.Std()
	if n.Until != "" {
		var a *Activities
		var at time.Time
		if err := workflow.ExecuteActivity(j.actx, a.NextTimeOfDay, TimeOfDayInput{
			Community: j.in.Community, MemberID: j.in.MemberID, At: n.Until, After: j.stepStart,
		}).Get(j.ctx, &at); err != nil {
			return "", err
		}
		length = at.Sub(j.stepStart)
	}
	length = j.capped(length)
	res, err := j.await(func() time.Time { return j.stepStart.Add(length) }, func() bool { return false })
	switch {
	case err != nil:
		return "", err
	case res == waitSkipped:
		return StepSkipped, nil
	}
	return StepCompleted, nil
}

// waitFor waits for what the member does; what happened before the step
// began counts at once.
func (j *graphJourney) waitFor(n Node) (string, error) {
	done := func() bool {
		switch n.Signal {
		case WaitProfileCompleted:
			return j.state.ProfileCompleted
		case WaitFirstRSVP:
			return j.state.RSVPed
		case WaitCheckedIn:
			return j.state.Attended
		}
		return false
	}
	timeout := j.capped(n.Timeout.Std())
	res, err := j.await(func() time.Time { return j.stepStart.Add(timeout) }, done)
	switch {
	case err != nil:
		return "", err
	case res == waitSkipped:
		return StepSkipped, nil
	case res == waitDeadline:
		return StepTimedOut, nil
	}
	return StepCompleted, nil
}

// ConditionInput asks whether a branch's condition holds for a member.
type ConditionInput struct {
	Community string
	MemberID  string
	Condition Condition
}

// holds decides a branch: journey attributes from the journey's state,
// member attributes and segments by asking the members service.
func (j *graphJourney) holds(n Node) (bool, error) {
	c := *n.If
	switch c.Attribute {
	case AttrProfile:
		return j.state.ProfileCompleted, nil
	case AttrRSVPed:
		return j.state.RSVPed, nil
	case AttrAttended:
		return j.state.Attended, nil
	case AttrHasBuddy:
		return j.state.BuddyID != "", nil
	case AttrTag:
		return slices.ContainsFunc(c.In, func(t string) bool { return slices.Contains(j.state.Tags, t) }), nil
	}
	var a *Activities
	var res ConditionResult
	err := workflow.ExecuteActivity(j.actx, a.EvaluateCondition, ConditionInput{Community: j.in.Community, MemberID: j.in.MemberID, Condition: c}).Get(j.ctx, &res)
	if res.Why != "" {
		j.note(n.ID, EventNote, res.Why)
	}
	return res.Holds, err
}

func (j *graphJourney) suggest(n Node) (string, error) {
	var a *Activities
	var res SuggestResult
	err := workflow.ExecuteActivity(j.actx, a.SuggestEvents, SuggestInput{MessageInput: j.message(n.template()), Limit: n.limit()}).Get(j.ctx, &res)
	switch {
	case err != nil:
		return j.sent(n, n.template(), err)
	case len(res.EventIDs) == 0:
		return StepNone, nil
	}
	j.state.SuggestedEventIDs = res.EventIDs
	j.note(n.ID, EventNote, "suggested "+strings.Join(res.EventIDs, ","))
	return StepCompleted, nil
}

func (j *graphJourney) assignBuddy(n Node) (string, error) {
	switch {
	case j.in.Test != nil:
		j.note(n.ID, EventNote, "a test run reserves no buddy")
		return StepNone, nil
	case j.state.BuddyID != "":
		j.note(n.ID, EventNote, "buddy "+j.state.BuddyID+" already")
		return StepCompleted, nil
	}
	var a *Activities
	var res BuddyResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(j.ctx, buddyOptions()), a.AssignBuddy,
		BuddyInput{MessageInput: j.message(n.template()), BuddyTemplate: n.buddyTemplate()}).Get(j.ctx, &res)
	if err != nil {
		return j.sent(n, n.template(), err)
	}
	if res.AmbassadorID == "" {
		j.note(n.ID, EventNote, "no ambassador with matching location or interests has room")
		return StepNone, nil
	}
	j.state.BuddyID = res.AmbassadorID
	j.note(n.ID, EventNote, "buddy "+res.AmbassadorID)
	return StepCompleted, nil
}

// StepActivityInput records an activity a step of a journey stands for.
type StepActivityInput struct {
	Community string
	MemberID  string
	Type      string
	// SourceEventID is the journey and step: the activity counts once.
	SourceEventID string
	At            time.Time
}

func (j *graphJourney) recordActivity(n Node) (string, error) {
	if j.in.Test != nil {
		j.note(n.ID, EventNote, "a test run records no "+n.Activity)
		return StepNone, nil
	}
	var a *Activities
	err := workflow.ExecuteActivity(j.actx, a.RecordStepActivity, StepActivityInput{
		Community: j.in.Community, MemberID: j.in.MemberID, Type: n.Activity, SourceEventID: j.id + "/" + n.ID, At: workflow.Now(j.ctx),
	}).Get(j.ctx, nil)
	if isType(err, ErrTypeInvalidRequest) {
		j.note(n.ID, EventNote, "the members service refused the activity "+n.Activity)
		return StepRefused, nil
	}
	if err != nil {
		return "", err
	}
	return StepCompleted, nil
}

// NoticeInput tells organisers about a member's journey.
type NoticeInput struct {
	MessageInput
	// To are the organisers; empty means the community's organisers.
	To []string `json:",omitempty"`
}

// NoticeResult counts the organisers told.
type NoticeResult struct {
	Sent int
}

func (j *graphJourney) notifyOrganisers(n Node) (string, error) {
	var a *Activities
	var res NoticeResult
	err := workflow.ExecuteActivity(j.actx, a.NotifyOrganisers, NoticeInput{MessageInput: j.message(n.template()), To: n.To}).Get(j.ctx, &res)
	if err != nil {
		return j.sent(n, n.template(), err)
	}
	if res.Sent == 0 {
		j.note(n.ID, EventNote, "no organiser to tell")
		return StepNone, nil
	}
	return StepCompleted, nil
}

func (j *graphJourney) releaseBuddy(ctx workflow.Context) {
	releaseBuddy(ctx, j.logger, MessageInput{Community: j.in.Community, MemberID: j.in.MemberID, WorkflowID: j.id}, j.state.BuddyID)
}

func (j *graphJourney) recordOnboarded() error {
	refused, err := recordOnboarded(j.ctx, j.actx, OnboardedInput{
		Community: j.in.Community, MemberID: j.in.MemberID, WorkflowID: j.id, At: workflow.Now(j.ctx),
	})
	if refused {
		j.note(StepDone, EventNote, noOnboardedActivity)
	}
	return err
}
