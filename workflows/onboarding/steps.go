package onboarding

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"
)

// StepRefused is a step whose message the mail server refused; the journey
// goes on.
const StepRefused = "refused"

// The messages a journey sends (MessageInput.Kind).
const (
	MessageWelcome         = "welcome"
	MessageProfileReminder = "profile-reminder"
	MessageAttendanceNudge = "attendance-nudge"
)

func (j *journey) message(kind, key string) MessageInput {
	return MessageInput{Community: j.in.Community, MemberID: j.in.MemberID, WorkflowID: j.id, Kind: kind, Key: key}
}

// send sends one message; a refusal is noted and the journey goes on.
func (j *journey) send(kind, key string) (string, error) {
	var a *Activities
	return j.sent(kind, workflow.ExecuteActivity(j.actx, a.SendJourneyMessage, j.message(kind, key)).Get(j.ctx, nil))
}

// sent judges a message activity's error.
func (j *journey) sent(kind string, err error) (string, error) {
	if isType(err, ErrTypeMessageRefused) {
		j.note(j.state.Step, EventNote, "the mail server refused the "+kind+" message")
		return StepRefused, nil
	}
	if err != nil {
		return "", err
	}
	return StepCompleted, nil
}

// welcome sends the welcome e-mail with the activity the first journeys
// used, whose key ("<journey>/welcome") it shares.
func (j *journey) welcome() (string, error) {
	var a *Activities
	outcome, err := j.sent(MessageWelcome, workflow.ExecuteActivity(j.actx, a.SendWelcome, j.message("", "")).Get(j.ctx, nil))
	j.state.WelcomeSent = err == nil && outcome == StepCompleted
	return outcome, err
}

// completeProfile waits for the profile-completed signal, reminding the
// member on the way, and moves on when the step's wait is over.
func (j *journey) completeProfile(s Step) (string, error) {
	timedOut, err := j.waitWithReminders(s, MessageProfileReminder, func() bool { return j.state.ProfileCompleted })
	if err != nil || timedOut == "" {
		return StepCompleted, err
	}
	return timedOut, nil
}

// firstAttendance waits for the member's first check-in, nudging them on
// the way; when the wait is over the journey lapses.
func (j *journey) firstAttendance(s Step) (string, error) {
	timedOut, err := j.waitWithReminders(s, MessageAttendanceNudge, func() bool { return j.state.Attended })
	if err != nil || timedOut == "" {
		return StepCompleted, err
	}
	if timedOut == StepTimedOut {
		j.state.Outcome = OutcomeLapsed
	}
	return timedOut, nil
}

// waitWithReminders waits until done holds, sending kind at each of the
// step's reminder offsets. It returns "" when done, StepSkipped or
// StepTimedOut otherwise.
func (j *journey) waitWithReminders(s Step, kind string, done func() bool) (string, error) {
	sent := 0
	for {
		res, err := j.await(func() time.Time {
			if sent < len(s.Reminders) {
				return j.stepStart.Add(s.Reminders[sent].Std())
			}
			return j.stepStart.Add(s.waitOrDefault())
		}, done)
		switch {
		case err != nil:
			return "", err
		case res == waitDone:
			return "", nil
		case res == waitSkipped:
			return StepSkipped, nil
		case sent >= len(s.Reminders):
			return StepTimedOut, nil
		}
		sent++
		if _, err := j.send(kind, fmt.Sprintf("%s-%d", kind, sent)); err != nil {
			return "", err
		}
		j.state.ReminderSent = true
		j.note(s.Type, EventReminderSent, fmt.Sprint(sent))
	}
}

// SuggestInput asks for event suggestions for a member.
type SuggestInput struct {
	MessageInput
	Limit int
}

// SuggestResult names the events suggested; none means nothing fitted.
type SuggestResult struct {
	EventIDs []string
}

func (j *journey) suggestEvent(s Step) (string, error) {
	var a *Activities
	var res SuggestResult
	err := workflow.ExecuteActivity(j.actx, a.SuggestEvents, SuggestInput{MessageInput: j.message("event-suggestion", "event-suggestion"), Limit: s.limitOrDefault()}).Get(j.ctx, &res)
	switch {
	case isType(err, ErrTypeMessageRefused):
		j.note(s.Type, EventNote, "the mail server refused the event suggestion")
		return StepRefused, nil
	case err != nil:
		return "", err
	case len(res.EventIDs) == 0:
		return StepNone, nil
	}
	j.state.SuggestedEventIDs = res.EventIDs
	j.note(s.Type, EventNote, "suggested "+strings.Join(res.EventIDs, ","))
	return StepCompleted, nil
}

// BuddyInput asks for (or releases) a member's buddy.
type BuddyInput struct {
	MessageInput
	// AmbassadorID is the buddy to release.
	AmbassadorID string `json:",omitempty"`
	// BuddyTemplate is what the ambassador is sent (MessageInput.Template
	// goes to the member); empty means the defaults.
	BuddyTemplate string `json:",omitempty"`
}

// keyOr is the message's key, or fallback when it has none.
func (m MessageInput) keyOr(fallback string) string {
	if m.Key != "" {
		return m.Key
	}
	return fallback
}

// BuddyResult names the ambassador who became the member's buddy; empty
// when none had room.
type BuddyResult struct {
	AmbassadorID string
}

// buddyOptions give the buddy search, which asks several ambassadors,
// more time per attempt.
func buddyOptions() workflow.ActivityOptions {
	o := activityOptions()
	o.StartToCloseTimeout = 2 * time.Minute
	return o
}

func (j *journey) assignBuddy() (string, error) {
	var a *Activities
	var res BuddyResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(j.ctx, buddyOptions()), a.AssignBuddy,
		BuddyInput{MessageInput: j.message("buddy", "buddy")}).Get(j.ctx, &res)
	if err != nil {
		return "", err
	}
	if res.AmbassadorID == "" {
		j.note(StepAssignBuddy, EventNote, "no ambassador with matching location or interests has room")
		return StepNone, nil
	}
	j.state.BuddyID = res.AmbassadorID
	j.note(StepAssignBuddy, EventNote, "buddy "+res.AmbassadorID)
	return StepCompleted, nil
}

// releaseBuddy frees the buddy's place when the journey ends. It is best
// effort: a buddy who cannot be reached is left as they are.
func (j *journey) releaseBuddy(ctx workflow.Context) {
	releaseBuddy(ctx, j.logger, j.message("", ""), j.state.BuddyID)
}

// releaseBuddy frees buddy's place with the member of msg, if any.
func releaseBuddy(ctx workflow.Context, logger log.Logger, msg MessageInput, buddy string) {
	if buddy == "" {
		return
	}
	var a *Activities
	o := activityOptions()
	o.ScheduleToCloseTimeout = time.Hour
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, o), a.ReleaseBuddy,
		BuddyInput{MessageInput: msg, AmbassadorID: buddy}).Get(ctx, nil)
	if err != nil {
		logger.Warn("cannot release the buddy", "ambassador_id", buddy, "error", err)
	}
}

// OnboardedInput records a member's onboarding.
type OnboardedInput struct {
	Community  string
	MemberID   string
	WorkflowID string
	At         time.Time
}

func (j *journey) recordOnboarded() error {
	refused, err := recordOnboarded(j.ctx, j.actx, OnboardedInput{
		Community: j.in.Community, MemberID: j.in.MemberID, WorkflowID: j.id, At: workflow.Now(j.ctx),
	})
	if refused {
		j.note(StepDone, EventNote, noOnboardedActivity)
	}
	return err
}

// noOnboardedActivity notes a community that stopped counting onboarded
// activities: the journey still ends, without the activity or
// MemberOnboarded.
const noOnboardedActivity = "onboarded activity not recorded: the members service refused it"

// recordOnboarded records the onboarded activity, and reports whether the
// members service refused it.
func recordOnboarded(ctx, actx workflow.Context, in OnboardedInput) (refused bool, err error) {
	var a *Activities
	err = workflow.ExecuteActivity(actx, a.RecordOnboarded, in).Get(ctx, nil)
	if isType(err, ErrTypeInvalidRequest) {
		return true, nil
	}
	return false, err
}
