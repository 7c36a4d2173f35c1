package onboarding

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kinshiphq/kinship/workflows/internal/flow"
)

// TestRun makes a journey a trial of a definition for one member: every
// message goes to RecipientID (the organiser who asked), nothing is
// recorded on the member or reserved with an ambassador, and no wait
// lasts longer than MaxWait.
type TestRun struct {
	RecipientID string
	MaxWait     time.Duration
}

// DefaultTestWait is how long each wait of a test run lasts at most.
const DefaultTestWait = time.Minute

// RestartRequest is what SignalRestart carries: the step to go on from.
type RestartRequest struct {
	Step string
}

// Migration is what SignalMigrate carries: the version to run from now
// on, and the step of it to go on from.
type Migration struct {
	Version int
	Journey Graph
	Step    string
}

// RSVP is what SignalRSVPed carries.
type RSVP struct {
	EventID      string
	OccurrenceID string
}

// graphJourney runs a versioned journey: the steps of its Graph, each
// naming the next, with the signals that arrive at any time folded into
// its state.
type graphJourney struct {
	ctx    workflow.Context
	actx   workflow.Context
	in     Input
	g      Graph
	index  map[string]int
	id     string
	key    string // prefix of idempotency keys
	logger log.Logger
	state  State
	// stepStart is when the current step began, moved later by the time
	// spent paused.
	stepStart time.Time
	pausedAt  time.Time
	// skip holds steps an organiser asked to skip, until they are reached.
	skip map[string]bool
	// jump is a step to go on from at once (a restart or a migration),
	// and migration the version it belongs to, when it is a migration.
	jump      string
	migration *Migration
	visits    map[string]int
}

func newGraphJourney(ctx workflow.Context, in Input) *graphJourney {
	info := workflow.GetInfo(ctx)
	j := &graphJourney{
		ctx: ctx, actx: workflow.WithActivityOptions(ctx, activityOptions()),
		in: in, g: *in.Journey, index: in.Journey.Index(), id: info.WorkflowExecution.ID,
		logger: workflow.GetLogger(ctx), skip: map[string]bool{}, visits: map[string]int{},
	}
	j.key = j.id
	if in.Test != nil {
		// A member's test runs share a workflow id: keep their messages apart.
		j.key = j.id + "/" + info.WorkflowExecution.RunID
	}
	j.state = State{Version: 3, Status: StatusRunning, Step: j.g.start(), Steps: j.g.IDs(), DefinitionVersion: in.Version, Test: in.Test != nil}
	return j
}

func (j *graphJourney) run() (Result, error) {
	if err := workflow.SetQueryHandler(j.ctx, QueryState, func() (State, error) { return j.state, nil }); err != nil {
		return Result{}, err
	}
	j.listen()
	if j.in.Test == nil {
		if err := j.awaitConfirmation(); err != nil {
			return j.stop(err)
		}
		if j.state.Outcome != "" {
			return j.finish()
		}
	}
	cur := j.g.start()
	for {
		if err := j.holdWhilePaused(); err != nil {
			return j.stop(err)
		}
		if j.jump != "" {
			cur = j.takeJump()
		}
		if j.state.Transitions >= MaxTransitions {
			j.note(cur, EventNote, fmt.Sprintf("the journey ran %d steps and ends", MaxTransitions))
			j.state.Outcome = OutcomeStepLimit
			break
		}
		j.state.Transitions++
		i := j.index[cur]
		next, err := j.runNode(i)
		if err != nil {
			return j.stop(err)
		}
		if j.jump != "" {
			continue
		}
		if n := j.g.Steps[i]; n.Kind == KindEnd {
			j.state.Outcome = n.outcome()
			break
		}
		cur = next
	}
	if j.state.Outcome == OutcomeOnboarded && j.in.Test == nil {
		if err := j.recordOnboarded(); err != nil {
			return j.stop(err)
		}
	}
	return j.finish()
}

// takeJump moves to the step a restart or migration named, taking the
// migration's version first.
func (j *graphJourney) takeJump() string {
	to := j.jump
	j.jump = ""
	if m := j.migration; m != nil {
		j.migration = nil
		from := j.state.DefinitionVersion
		j.g, j.index = m.Journey, m.Journey.Index()
		j.state.DefinitionVersion, j.state.Steps = m.Version, j.g.IDs()
		j.note(to, EventMigrated, fmt.Sprintf("version %d → %d", from, m.Version))
		return to
	}
	j.note(to, EventRestarted, "")
	return to
}

// runNode runs the step at i and returns the step to go on with.
func (j *graphJourney) runNode(i int) (string, error) {
	n := j.g.Steps[i]
	j.state.StepIndex, j.state.Step = i, n.ID
	j.stepStart = workflow.Now(j.ctx)
	j.visits[n.ID]++
	j.note(n.ID, EventStarted, "")
	j.upsertMemo()
	if j.skip[n.ID] {
		delete(j.skip, n.ID)
		j.note(n.ID, EventEnded, StepSkipped)
		return j.g.next(i), nil
	}
	outcome, next, err := j.step(i, n)
	delete(j.skip, n.ID) // a skip that came while the step ran is spent
	if err != nil || j.jump != "" {
		return "", err
	}
	j.state.NextDeadline = time.Time{}
	j.note(n.ID, EventEnded, outcome)
	return next, nil
}

// step does what the step's kind does, and says how it ended and where
// the journey goes on.
func (j *graphJourney) step(i int, n Node) (outcome, next string, err error) {
	next = j.g.next(i)
	switch n.Kind {
	case KindSend:
		outcome, err = j.send(n, n.Template)
	case KindWait:
		outcome, err = j.wait(n)
	case KindWaitFor:
		outcome, err = j.waitFor(n)
		if outcome == StepTimedOut {
			next = j.g.timeoutNext(i)
		}
	case KindBranch:
		var holds bool
		holds, err = j.holds(n)
		outcome, next = "else", n.Else
		if holds {
			outcome, next = "then", n.Then
		}
	case KindSuggestEvents:
		outcome, err = j.suggest(n)
	case KindAssignBuddy:
		outcome, err = j.assignBuddy(n)
	case KindTag:
		if !slices.Contains(j.state.Tags, n.Tag) {
			j.state.Tags = append(j.state.Tags, n.Tag)
		}
		outcome = StepCompleted
	case KindRecordActivity:
		outcome, err = j.recordActivity(n)
	case KindNotifyOrganiser:
		outcome, err = j.notifyOrganisers(n)
	case KindEnd:
		outcome, next = n.outcome(), ""
	}
	return outcome, next, err
}

// stop ends the journey on an error, as the fixed journey does.
func (j *graphJourney) stop(err error) (Result, error) {
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

func (j *graphJourney) finish() (Result, error) {
	j.releaseBuddy(j.ctx)
	j.state.Status, j.state.Step, j.state.NextDeadline = StatusCompleted, StepDone, time.Time{}
	j.note(StepDone, EventEnded, j.state.Outcome)
	j.upsertMemo()
	j.logger.Info("onboarding journey ended", "member_id", j.in.MemberID, "outcome", j.state.Outcome, "version", j.state.DefinitionVersion)
	return Result{Outcome: j.state.Outcome}, nil
}

// holdWhilePaused waits for a paused journey to be resumed.
func (j *graphJourney) holdWhilePaused() error {
	if !j.state.Paused {
		return nil
	}
	j.state.NextDeadline = time.Time{}
	return workflow.Await(j.ctx, func() bool { return !j.state.Paused })
}

// waitInterrupted ends a wait for a restart or migration.
const waitInterrupted waitResult = 100

// await waits until done holds, the step is skipped, a jump is asked for
// or deadline passes; deadline is asked again after every pause.
func (j *graphJourney) await(deadline func() time.Time, done func() bool) (waitResult, error) {
	step := j.state.Step
	for {
		switch {
		case j.jump != "":
			return waitInterrupted, nil
		case j.skip[step]:
			return waitSkipped, nil
		case done():
			return waitDone, nil
		case j.state.Paused:
			j.state.NextDeadline = time.Time{}
			if err := workflow.Await(j.ctx, func() bool { return !j.state.Paused || j.skip[step] || j.jump != "" }); err != nil {
				return 0, err
			}
			continue
		}
		d, now := deadline(), workflow.Now(j.ctx)
		if !now.Before(d) {
			return waitDeadline, nil
		}
		j.state.NextDeadline = d
		if err := flow.AwaitOrTimer(j.ctx, d.Sub(now), func() bool { return j.state.Paused || j.skip[step] || j.jump != "" || done() }); err != nil {
			return 0, err
		}
	}
}

// capped shortens a wait of a test run.
func (j *graphJourney) capped(d time.Duration) time.Duration {
	if t := j.in.Test; t != nil {
		limit := t.MaxWait
		if limit <= 0 {
			limit = DefaultTestWait
		}
		return min(d, limit)
	}
	return d
}

// note appends to the journey's history.
func (j *graphJourney) note(step, event, detail string) {
	if len(j.state.History) >= maxHistory {
		j.state.History = j.state.History[1:]
	}
	j.state.History = append(j.state.History, Entry{At: workflow.Now(j.ctx), Step: step, Event: event, Detail: detail})
}

// upsertMemo keeps the step, pause, version and outcome listable.
func (j *graphJourney) upsertMemo() {
	memo := map[string]any{MemoStep: j.state.Step, MemoPaused: j.state.Paused, MemoVersion: j.state.DefinitionVersion}
	if j.state.Outcome != "" {
		memo[MemoOutcome] = j.state.Outcome
	}
	if err := workflow.UpsertMemo(j.ctx, memo); err != nil {
		j.logger.Warn("cannot update the journey's memo", "error", err)
	}
}

// message is the activity input of a message the current step sends.
func (j *graphJourney) message(template string) MessageInput {
	key := j.state.Step
	if n := j.visits[key]; n > 1 {
		key = fmt.Sprintf("%s/%d", key, n)
	}
	m := MessageInput{Community: j.in.Community, MemberID: j.in.MemberID, WorkflowID: j.key, Key: key, Template: template}
	if j.in.Test != nil {
		m.RecipientID = j.in.Test.RecipientID
	}
	return m
}
