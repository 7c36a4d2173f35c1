package eventlifecycle

import (
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kinshiphq/kinship/workflows/internal/activityerr"
)

// Input starts an event's lifecycle, or continues it as new.
type Input struct {
	Community string
	EventID   string
	// Occurrences are the event's scheduled occurrences when it was
	// published.
	Occurrences []Occurrence
	Settings    Settings
	// Carried over when a long series continues as new.
	Continued bool             `json:",omitempty"`
	Plans     []OccurrencePlan `json:",omitempty"`
	Offers    []SeatOffer      `json:",omitempty"`
	Totals    Totals
}

// Totals count what a lifecycle did, over every run of it.
type Totals struct {
	RemindersSent       int
	FeedbackRequests    int
	CancellationNotices int
	SeatOffersSent      int
	OffersExpired       int
	NoShowsMarked       int
}

// Outcomes of a lifecycle.
const (
	// OutcomeFinished: every occurrence ended and was followed up.
	OutcomeFinished = "finished"
	// OutcomeCancelled: the event was cancelled; members were told.
	OutcomeCancelled = "cancelled"
)

// Result is how a lifecycle ended.
type Result struct {
	Outcome string
	Totals  Totals
}

// State is what QueryState returns.
type State struct {
	EventID     string
	Occurrences []OccurrencePlan
	// Offers are the seat offers whose expiry the lifecycle waits for.
	Offers []SeatOffer
	// NextWake is when the lifecycle next acts on its own.
	NextWake time.Time
	Totals   Totals
}

// noticeOptions bound messages to many members: an attempt may take 10
// minutes and reports progress every page; retried with backoff for up to
// 2 hours, after which a reminder is moot.
func noticeOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Minute,
		HeartbeatTimeout:       time.Minute,
		ScheduleToCloseTimeout: 2 * time.Hour,
		RetryPolicy:            retryPolicy(),
	}
}

// callOptions bound single calls: 30 s an attempt, retried for up to an
// hour.
func callOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy:            retryPolicy(),
	}
}

func retryPolicy() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        5 * time.Minute,
		NonRetryableErrorTypes: activityerr.NonRetryable(),
	}
}

// Workflow runs one event's lifecycle until its last occurrence is
// followed up or the event is cancelled.
func Workflow(ctx workflow.Context, in Input) (Result, error) {
	if in.Community == "" || in.EventID == "" {
		return Result{}, temporal.NewNonRetryableApplicationError("community and event id are required", activityerr.InvalidRequest, nil)
	}
	if err := in.Settings.Validate(); err != nil {
		return Result{}, temporal.NewNonRetryableApplicationError(err.Error(), activityerr.InvalidRequest, nil)
	}
	lc := &lifecycle{in: in, s: in.Settings.withDefaults(), plans: in.Plans, offers: in.Offers, totals: in.Totals}
	if !in.Continued {
		now := workflow.Now(ctx)
		for _, o := range in.Occurrences {
			lc.plans = append(lc.plans, planOccurrence(o, lc.s, now))
		}
		lc.plans = sortPlans(lc.plans)
	}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) { return lc.state(), nil }); err != nil {
		return Result{}, err
	}
	updated := workflow.GetSignalChannel(ctx, SignalEventUpdated)
	cancelled := workflow.GetSignalChannel(ctx, SignalEventCancelled)
	offered := workflow.GetSignalChannel(ctx, SignalSeatOffered)

	for {
		lc.runDue(ctx)
		if !lc.busy() {
			workflow.GetLogger(ctx).Info("event lifecycle finished", "event_id", in.EventID)
			return Result{Outcome: OutcomeFinished, Totals: lc.totals}, nil
		}
		if lc.long(ctx) && updated.Len() == 0 && cancelled.Len() == 0 && offered.Len() == 0 {
			return Result{}, workflow.NewContinueAsNewError(ctx, WorkflowName, lc.carry())
		}
		lc.wake = lc.nextWake()
		wait := lc.wake.Sub(workflow.Now(ctx))
		if wait <= 0 {
			continue // came due while the last step ran
		}
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		timer := workflow.NewTimer(timerCtx, wait)
		var cancellation *Cancellation
		var offer *SeatOffer
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(timer, func(workflow.Future) {})
		sel.AddReceive(updated, func(c workflow.ReceiveChannel, _ bool) {
			var u Update
			c.Receive(ctx, &u)
			lc.plans = applyUpdate(lc.plans, u, lc.s, workflow.Now(ctx))
		})
		sel.AddReceive(cancelled, func(c workflow.ReceiveChannel, _ bool) {
			cancellation = &Cancellation{}
			c.Receive(ctx, cancellation)
		})
		sel.AddReceive(offered, func(c workflow.ReceiveChannel, _ bool) {
			offer = &SeatOffer{}
			c.Receive(ctx, offer)
		})
		sel.Select(ctx)
		cancelTimer()
		switch {
		case cancellation != nil && cancellation.OccurrenceID == "":
			lc.cancelEvent(ctx)
			workflow.GetLogger(ctx).Info("event cancelled; lifecycle ends", "event_id", in.EventID)
			return Result{Outcome: OutcomeCancelled, Totals: lc.totals}, nil
		case cancellation != nil:
			lc.cancelOccurrence(ctx, cancellation.OccurrenceID)
		case offer != nil:
			lc.offer(ctx, *offer)
		}
	}
}

// lifecycle is one run's state.
type lifecycle struct {
	in     Input
	s      Settings
	plans  []OccurrencePlan
	offers []SeatOffer
	totals Totals
	wake   time.Time
}

func (lc *lifecycle) state() State {
	return State{EventID: lc.in.EventID, Occurrences: lc.plans, Offers: lc.offers, NextWake: lc.wake, Totals: lc.totals}
}

// busy reports whether anything is left to do.
func (lc *lifecycle) busy() bool {
	return len(lc.offers) > 0 || slices.ContainsFunc(lc.plans, OccurrencePlan.pending)
}

// nextWake is when the next step or seat offer comes due.
func (lc *lifecycle) nextWake() time.Time {
	var next time.Time
	for _, p := range lc.plans {
		if due, ok := p.nextDue(); ok && (next.IsZero() || due.Before(next)) {
			next = due
		}
	}
	for _, o := range lc.offers {
		if due := o.ExpiresAt.Add(lc.s.OfferGrace); next.IsZero() || due.Before(next) {
			next = due
		}
	}
	return next
}

// long reports whether the history has grown enough to continue as new.
func (lc *lifecycle) long(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= lc.s.MaxHistoryEvents
}

// carry is the input of the next run.
func (lc *lifecycle) carry() Input {
	return Input{Community: lc.in.Community, EventID: lc.in.EventID, Settings: lc.in.Settings,
		Continued: true, Plans: lc.plans, Offers: lc.offers, Totals: lc.totals}
}

// runDue takes every step that has come due, in occurrence order, then
// passes on the seat offers that expired.
func (lc *lifecycle) runDue(ctx workflow.Context) {
	now := workflow.Now(ctx)
	for i := range lc.plans {
		p := &lc.plans[i]
		for j := range p.Steps {
			if st := &p.Steps[j]; st.State == StatePending && !st.Due.After(now) {
				lc.runStep(ctx, p.Occurrence, st)
			}
		}
	}
	lc.expireOffers(ctx, now)
}

// runStep takes one step. A step that fails is recorded and logged; the
// lifecycle goes on with the others.
func (lc *lifecycle) runStep(ctx workflow.Context, o Occurrence, st *Step) {
	var a *Activities
	var res NoticeResult
	var err error
	switch st.Kind {
	case StepReminder:
		if !workflow.Now(ctx).Before(o.Start) {
			st.State = StateSkipped
			return
		}
		err = lc.notice(ctx, o.ID, NoticeReminder, st.Before, &res)
		lc.totals.RemindersSent += res.Sent
	case StepFeedback:
		err = lc.notice(ctx, o.ID, NoticeFeedback, 0, &res)
		lc.totals.FeedbackRequests += res.Sent
	case StepNoShows:
		err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, callOptions()), a.MarkNoShows,
			NoShowsInput{Community: lc.in.Community, OccurrenceID: o.ID}).Get(ctx, &res.Sent)
		lc.totals.NoShowsMarked += res.Sent
	}
	switch {
	case err != nil:
		st.State = StateFailed
		workflow.GetLogger(ctx).Warn("event lifecycle step failed", "event_id", lc.in.EventID, "occurrence_id", o.ID,
			"step", st.Kind, "error", err)
	case res.Skipped != "":
		st.State = StateSkipped
	default:
		st.State, st.Count = StateDone, res.Sent
	}
}

func (lc *lifecycle) notice(ctx workflow.Context, occurrenceID, kind string, before time.Duration, res *NoticeResult) error {
	var a *Activities
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, noticeOptions()), a.SendEventNotice, NoticeInput{
		Community: lc.in.Community, EventID: lc.in.EventID, OccurrenceID: occurrenceID, Kind: kind, Before: before,
	}).Get(ctx, res)
}

// offer tells the member of a seat offer (unless it already expired) and
// waits for its expiry.
func (lc *lifecycle) offer(ctx workflow.Context, o SeatOffer) {
	if slices.ContainsFunc(lc.offers, func(x SeatOffer) bool {
		return x.OccurrenceID == o.OccurrenceID && x.MemberID == o.MemberID && x.ExpiresAt.Equal(o.ExpiresAt)
	}) {
		return // a redelivered SeatOffered
	}
	if o.ExpiresAt.After(workflow.Now(ctx)) {
		var a *Activities
		var res NoticeResult
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, callOptions()), a.SendSeatOffer,
			OfferInput{Community: lc.in.Community, EventID: lc.in.EventID, SeatOffer: o}).Get(ctx, &res)
		if err != nil {
			workflow.GetLogger(ctx).Warn("seat offer not sent", "event_id", lc.in.EventID, "occurrence_id", o.OccurrenceID,
				"member_id", o.MemberID, "error", err)
		}
		lc.totals.SeatOffersSent += res.Sent
	}
	lc.offers = append(lc.offers, o)
}

// expireOffers asks the events service to pass on the offers that expired
// (it does so for the whole community; the next member on the waitlist
// gets an offer of their own, which comes back as a signal). A failure is
// logged: the service's own sweep is the backstop.
func (lc *lifecycle) expireOffers(ctx workflow.Context, now time.Time) {
	var open []SeatOffer
	for _, o := range lc.offers {
		if now.Before(o.ExpiresAt.Add(lc.s.OfferGrace)) {
			open = append(open, o)
		}
	}
	if len(open) == len(lc.offers) {
		return
	}
	var a *Activities
	var res ExpireResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, callOptions()), a.ExpireSeatOffers,
		ExpireInput{Community: lc.in.Community}).Get(ctx, &res)
	if err != nil {
		workflow.GetLogger(ctx).Warn("expired seat offers not passed on; the events service's sweep will", "event_id", lc.in.EventID, "error", err)
	}
	lc.totals.OffersExpired += res.Expired
	lc.offers = open
}

// cancelEvent tells the members holding seats at every occurrence not yet
// started.
func (lc *lifecycle) cancelEvent(ctx workflow.Context) {
	now := workflow.Now(ctx)
	for _, p := range lc.plans {
		if p.Start.After(now) {
			lc.tellCancelled(ctx, p.ID)
		}
	}
	lc.offers = nil
}

// cancelOccurrence tells the members holding seats at one occurrence and
// drops it.
func (lc *lifecycle) cancelOccurrence(ctx workflow.Context, occurrenceID string) {
	lc.tellCancelled(ctx, occurrenceID)
	lc.plans = slices.DeleteFunc(lc.plans, func(p OccurrencePlan) bool { return p.ID == occurrenceID })
	lc.offers = slices.DeleteFunc(lc.offers, func(o SeatOffer) bool { return o.OccurrenceID == occurrenceID })
}

func (lc *lifecycle) tellCancelled(ctx workflow.Context, occurrenceID string) {
	var res NoticeResult
	if err := lc.notice(ctx, occurrenceID, NoticeCancelled, 0, &res); err != nil {
		workflow.GetLogger(ctx).Warn("cancellation notice not sent", "event_id", lc.in.EventID, "occurrence_id", occurrenceID, "error", err)
	}
	lc.totals.CancellationNotices += res.Sent
}
