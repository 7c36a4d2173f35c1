package ambassador

import (
	"errors"
	"slices"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Input starts a candidacy, or continues an ambassadorship into its next
// cycle (Renewal set).
type Input struct {
	Community  string
	MemberID   string
	Nomination Nomination
	Programme  Programme
	// ProgrammeVersion is the version of the community's programme that
	// Programme is; 0 for candidacies begun before programmes were
	// versioned.
	ProgrammeVersion int      `json:",omitempty"`
	Renewal          *Renewal `json:",omitempty"`
}

// Nomination says who put the candidate forward: a member id, or the
// token subject of an organiser who is no member.
type Nomination struct {
	By   string
	Kind string
	At   time.Time
}

// Renewal is what an ambassadorship carries into its next cycle.
type Renewal struct {
	Cycle       int
	Tier        string
	Buddies     []string
	ActivatedAt time.Time
	Nomination  Nomination
}

// Result is how a candidacy or ambassadorship ended.
type Result struct {
	Outcome string
}

// activityOptions bound every programme activity like the onboarding
// journey's: 30 s an attempt, retried with backoff for up to a day, bad
// input not retried.
func activityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        5 * time.Minute,
			NonRetryableErrorTypes: []string{ErrTypeMemberNotFound, ErrTypeNotFound, ErrTypeInvalidRequest},
		},
	}
}

// Workflow runs one member's place in the ambassador programme.
func Workflow(ctx workflow.Context, in Input) (Result, error) {
	if in.Community == "" || in.MemberID == "" {
		return Result{}, temporal.NewNonRetryableApplicationError("community and member id are required", ErrTypeInvalidRequest, nil)
	}
	if err := in.Programme.Validate(); err != nil {
		return Result{}, temporal.NewNonRetryableApplicationError("programme: "+err.Error(), ErrTypeInvalidRequest, nil)
	}
	return newCandidate(ctx, in).run()
}

// candidate runs a candidacy through its stages.
type candidate struct {
	ctx    workflow.Context
	actx   workflow.Context
	in     Input
	p      Programme
	id     string
	logger log.Logger
	state  State
	// offboard is set by SignalOffboard.
	offboard bool
	// doneEarly are training tasks completed before training began.
	doneEarly []string
	// periodStart is when the current review period began; counted are
	// the activities reported in it (SignalActivityRecorded), by type.
	periodStart time.Time
	counted     map[string][]string
}

func newCandidate(ctx workflow.Context, in Input) *candidate {
	c := &candidate{
		ctx: ctx, actx: workflow.WithActivityOptions(ctx, activityOptions()), in: in, p: in.Programme,
		id: workflow.GetInfo(ctx).WorkflowExecution.ID, logger: workflow.GetLogger(ctx), counted: map[string][]string{},
	}
	c.state = State{MemberID: in.MemberID, Stage: StageEligibility, Nomination: in.Nomination, ProgrammeVersion: in.ProgrammeVersion}
	if r := in.Renewal; r != nil {
		c.state.Cycle, c.state.Tier, c.state.ActivatedAt = r.Cycle, r.Tier, r.ActivatedAt
		c.state.Buddies = slices.Clone(r.Buddies)
		c.state.Capacity = c.p.capacityOf(r.Tier)
		c.state.Nomination = r.Nomination
	}
	return c
}

func (c *candidate) run() (Result, error) {
	if err := workflow.SetQueryHandler(c.ctx, QueryState, func() (State, error) { return c.state, nil }); err != nil {
		return Result{}, err
	}
	if err := c.handleBuddies(); err != nil {
		return Result{}, err
	}
	c.listen()
	if c.in.Renewal == nil {
		for _, stage := range []func() (string, error){c.checkEligibility, c.review, c.train, c.activate} {
			outcome, err := stage()
			if err != nil {
				return c.stop(err)
			}
			if outcome != "" {
				return c.end(outcome)
			}
		}
	}
	return c.activeCycle()
}

// stop ends the candidacy on an error: a member who is gone ends it
// quietly, a cancellation takes the role back, anything else fails it.
func (c *candidate) stop(err error) (Result, error) {
	var appErr *temporal.ApplicationError
	switch {
	case temporal.IsCanceledError(err):
		ctx, _ := workflow.NewDisconnectedContext(c.ctx)
		if !c.state.ActivatedAt.IsZero() {
			if rerr := c.revoke(ctx); rerr != nil {
				c.logger.Warn("cannot revoke the ambassador role of a cancelled ambassadorship", "member_id", c.in.MemberID, "error", rerr)
			}
		}
		c.state.Stage, c.state.Outcome, c.state.NextDeadline = StageEnded, OutcomeCancelled, time.Time{}
		c.note(EventEnded, OutcomeCancelled)
		return Result{}, err
	case errors.As(err, &appErr) && appErr.Type() == ErrTypeMemberNotFound:
		return c.end(OutcomeMemberGone)
	}
	return Result{}, err
}

// end records the outcome.
func (c *candidate) end(outcome string) (Result, error) {
	c.state.Stage, c.state.Outcome, c.state.NextDeadline = StageEnded, outcome, time.Time{}
	c.note(EventEnded, outcome)
	c.upsertMemo()
	c.logger.Info("ambassador candidacy ended", "member_id", c.in.MemberID, "outcome", outcome)
	return Result{Outcome: outcome}, nil
}

// enter moves to stage.
func (c *candidate) enter(stage string) {
	c.state.Stage = stage
	c.note(EventStarted, "")
	c.upsertMemo()
}

// Events of a candidacy's history.
const (
	EventStarted   = "started"
	EventEnded     = "ended"
	EventReviewed  = "reviewed"
	EventEscalated = "escalated"
	EventTaskDone  = "task-completed"
	EventReminded  = "reminded"
	EventCheckIn   = "check-in"
	EventTier      = "tier-changed"
	EventBuddy     = "buddy"
	EventNote      = "note"
)

func (c *candidate) note(event, detail string) {
	if len(c.state.History) >= maxHistory {
		c.state.History = c.state.History[1:]
	}
	c.state.History = append(c.state.History, Entry{At: workflow.Now(c.ctx), Stage: c.state.Stage, Event: event, Detail: detail})
}

func (c *candidate) upsertMemo() {
	memo := map[string]any{MemoStage: c.state.Stage, MemoTier: c.state.Tier, MemoBuddies: len(c.state.Buddies), MemoCycle: c.state.Cycle}
	if c.state.Outcome != "" {
		memo[MemoOutcome] = c.state.Outcome
	}
	if err := workflow.UpsertMemo(c.ctx, memo); err != nil {
		c.logger.Warn("cannot update the roster memo", "error", err)
	}
}

// isType reports whether err is an application error of type typ.
func isType(err error, typ string) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == typ
}
