package ambassador

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/kinshiphq/kinship/workflows/internal/flow"
)

// Messages the programme sends (Message.Kind).
const (
	MessageReviewRequest    = "review-request"
	MessageReviewEscalation = "review-escalation"
	MessageDeclined         = "nomination-declined"
	MessageTrainingStarted  = "training-started"
	MessageTaskReminder     = "task-reminder"
	MessageTaskOverdue      = "task-overdue"
	MessageActivated        = "activated"
	MessageCheckIn          = "check-in"
	MessageTierChanged      = "tier-changed"
	MessageRenewed          = "renewed"
	MessageThankYou         = "thank-you"
)

// checkEligibility checks the nomination against the criteria.
func (c *candidate) checkEligibility() (string, error) {
	c.enter(StageEligibility)
	var a *Activities
	var e Eligibility
	if err := workflow.ExecuteActivity(c.actx, a.CheckEligibility, EligibilityInput{
		Community: c.in.Community, MemberID: c.in.MemberID, Criteria: c.p.Criteria,
	}).Get(c.ctx, &e); err != nil {
		return "", err
	}
	c.state.Eligibility = e
	if !e.Eligible {
		c.note(EventNote, strings.Join(e.Reasons, "; "))
		return OutcomeIneligible, nil
	}
	return "", nil
}

// review waits for the reviewers' decisions, asking EscalateTo too when
// they take long, until the nomination expires.
func (c *candidate) review() (string, error) {
	c.enter(StageReview)
	c.state.Reviewers = slices.Clone(c.p.Reviewers)
	start := workflow.Now(c.ctx)
	if err := c.notify(c.state.Reviewers, MessageReviewRequest, "review-request", nil); err != nil {
		return "", err
	}
	for c.decision() == "" {
		deadline := start.Add(c.p.EscalateAfter.Std())
		if c.state.Escalated {
			deadline = start.Add(c.p.ExpireAfter.Std())
		}
		c.state.NextDeadline = deadline
		timedOut, err := flow.AwaitUntil(c.ctx, deadline, func() bool { return c.decision() != "" || c.offboard })
		switch {
		case err != nil:
			return "", err
		case c.offboard:
			return c.offboardNow(OutcomeWithdrawn)
		case !timedOut:
			continue
		case c.state.Escalated:
			return OutcomeReviewExpired, nil
		}
		c.state.Escalated = true
		for _, id := range c.p.EscalateTo {
			if !slices.Contains(c.state.Reviewers, id) {
				c.state.Reviewers = append(c.state.Reviewers, id)
			}
		}
		c.note(EventEscalated, strings.Join(c.state.Reviewers, ","))
		if err := c.notify(c.state.Reviewers, MessageReviewEscalation, "review-escalation", nil); err != nil {
			return "", err
		}
	}
	c.state.NextDeadline = time.Time{}
	if c.decision() == decisionDeclined {
		if err := c.notify([]string{c.in.MemberID}, MessageDeclined, "declined", nil); err != nil {
			return "", err
		}
		return OutcomeDeclined, nil
	}
	return "", nil
}

const (
	decisionApproved = "approved"
	decisionDeclined = "declined"
)

// decision is the reviews' verdict so far: one rejection declines, enough
// approvals approve.
func (c *candidate) decision() string {
	approvals := 0
	for _, r := range c.state.Reviews {
		switch {
		case !r.Approve:
			return decisionDeclined
		case r.Override:
			return decisionApproved
		}
		approvals++
	}
	if approvals >= c.p.Approvals {
		return decisionApproved
	}
	return ""
}

// train waits until every task is done, reminding before each deadline
// and telling when one passes; training expires a grace after the last.
func (c *candidate) train() (string, error) {
	if len(c.p.Training) == 0 {
		return "", nil
	}
	c.enter(StageTraining)
	record := workflow.GetVersion(c.ctx, changeRecordTasks, workflow.DefaultVersion, 1) == 1
	start := workflow.Now(c.ctx)
	var names []string
	expire := start
	for _, t := range c.p.Training {
		due := start.Add(t.Due.Std())
		done := slices.Contains(c.doneEarly, t.Name)
		task := TaskState{Name: t.Name, Due: due, Reminded: c.p.RemindBefore == 0, Done: done}
		if done {
			task.DoneAt = start // done before training began: it counts from now
		}
		c.state.Tasks = append(c.state.Tasks, task)
		names = append(names, t.Name)
		if due.After(expire) {
			expire = due
		}
	}
	expire = expire.Add(c.p.TrainingGrace.Std())
	if err := c.notify([]string{c.in.MemberID}, MessageTrainingStarted, "training-started", &Message{Tasks: names}); err != nil {
		return "", err
	}
	for !c.trained() {
		if record {
			if err := c.recordTasks(); err != nil {
				return "", err
			}
		}
		next := expire
		for _, t := range c.state.Tasks {
			if t.Done {
				continue
			}
			if at := t.Due.Add(-c.p.RemindBefore.Std()); !t.Reminded && at.Before(next) {
				next = at
			}
			if !t.Overdue && t.Due.Before(next) {
				next = t.Due
			}
		}
		c.state.NextDeadline = next
		timedOut, err := flow.AwaitUntil(c.ctx, next, func() bool { return c.trained() || c.offboard })
		switch {
		case err != nil:
			return "", err
		case c.offboard:
			return c.offboardNow(OutcomeWithdrawn)
		case !timedOut:
			continue
		}
		if err := c.chaseTasks(); err != nil {
			return "", err
		}
		if !workflow.Now(c.ctx).Before(expire) && !c.trained() {
			return OutcomeTrainingExpired, nil
		}
	}
	c.state.NextDeadline = time.Time{}
	if record {
		if err := c.recordTasks(); err != nil {
			return "", err
		}
	}
	return "", nil
}

// chaseTasks sends the reminders and overdue notices that are due.
func (c *candidate) chaseTasks() error {
	now := workflow.Now(c.ctx)
	for i := range c.state.Tasks {
		t := &c.state.Tasks[i]
		if t.Done {
			continue
		}
		if !t.Reminded && !now.Before(t.Due.Add(-c.p.RemindBefore.Std())) {
			t.Reminded = true
			if err := c.notify([]string{c.in.MemberID}, MessageTaskReminder, "task-reminder-"+t.Name, &Message{Tasks: []string{t.Name}}); err != nil {
				return err
			}
			c.note(EventReminded, t.Name)
		}
		if !t.Overdue && !now.Before(t.Due) {
			t.Overdue = true
			if err := c.notify([]string{c.in.MemberID}, MessageTaskOverdue, "task-overdue-"+t.Name, &Message{Tasks: []string{t.Name}}); err != nil {
				return err
			}
			c.note(EventReminded, t.Name+" overdue")
		}
	}
	return nil
}

func (c *candidate) trained() bool {
	for _, t := range c.state.Tasks {
		if !t.Done {
			return false
		}
	}
	return true
}

// activate gives the candidate the ambassador role at the first tier,
// welcomes them and announces them to the community.
func (c *candidate) activate() (string, error) {
	c.enter(StageActivating)
	tier := c.p.Tiers[0]
	if err := c.assignTier(tier); err != nil {
		return "", err
	}
	c.state.Tier, c.state.Capacity, c.state.ActivatedAt = tier, c.p.capacityOf(tier), workflow.Now(c.ctx)
	if err := c.notify([]string{c.in.MemberID}, MessageActivated, "activated", &Message{Tier: tier}); err != nil {
		return "", err
	}
	if c.p.AnnouncementTemplate != "" {
		var a *Activities
		err := workflow.ExecuteActivity(c.actx, a.Announce, AnnounceInput{
			Community: c.in.Community, MemberID: c.in.MemberID, WorkflowID: c.id, Template: c.p.AnnouncementTemplate,
		}).Get(c.ctx, nil)
		switch {
		case isType(err, ErrTypeNotFound), isType(err, ErrTypeInvalidRequest):
			c.note(EventNote, "no announcement: the communications service refused template "+c.p.AnnouncementTemplate)
		case err != nil:
			return "", err
		}
	}
	return "", nil
}

// activeCycle runs one year of check-ins and quota reviews, then renews
// the ambassadorship by continuing as new.
func (c *candidate) activeCycle() (Result, error) {
	c.enter(StageActive)
	cycleStart := workflow.Now(c.ctx)
	c.periodStart, c.counted = cycleStart, map[string][]string{}
	reviews := 0
	c.state.CheckIns, c.state.FailedReviews = 0, 0
	for n := 1; n <= c.p.CheckIns; n++ {
		at := cycleStart.Add(time.Duration(n) * c.p.CheckInEvery.Std())
		c.state.NextDeadline = at
		if _, err := flow.AwaitUntil(c.ctx, at, func() bool { return c.offboard }); err != nil {
			return c.stop(err)
		}
		if c.offboard {
			return c.result(c.offboardNow(OutcomeOffboarded))
		}
		if err := c.checkIn(n, c.periodStart); err != nil {
			return c.stop(err)
		}
		if n%c.p.ReviewEvery == 0 {
			reviews++
			if err := c.tierReview(n); err != nil {
				return c.stop(err)
			}
			c.periodStart, c.counted = workflow.Now(c.ctx), map[string][]string{}
		}
	}
	if reviews > 0 && c.state.FailedReviews == reviews {
		return c.result(c.offboardNow(OutcomeNotRenewed))
	}
	if err := c.notify([]string{c.in.MemberID}, MessageRenewed, fmt.Sprintf("cycle-%d-renewed", c.state.Cycle), &Message{Tier: c.state.Tier}); err != nil {
		return c.stop(err)
	}
	c.drain()
	if c.offboard {
		return c.result(c.offboardNow(OutcomeOffboarded))
	}
	if err := workflow.Await(c.ctx, func() bool { return workflow.AllHandlersFinished(c.ctx) }); err != nil {
		return c.stop(err)
	}
	next := c.in
	next.Renewal = &Renewal{Cycle: c.state.Cycle + 1, Tier: c.state.Tier, Buddies: c.state.Buddies, ActivatedAt: c.state.ActivatedAt, Nomination: c.state.Nomination}
	if workflow.GetVersion(c.ctx, changeProgrammeAtRenewal, workflow.DefaultVersion, 1) == 1 {
		if err := c.takeCurrentProgramme(&next); err != nil {
			return c.stop(err)
		}
	}
	c.logger.Info("ambassadorship renewed", "member_id", c.in.MemberID, "cycle", next.Renewal.Cycle)
	return Result{}, workflow.NewContinueAsNewError(c.ctx, WorkflowName, next)
}

// result turns a stage's outcome into the workflow's end.
func (c *candidate) result(outcome string, err error) (Result, error) {
	if err != nil {
		return c.stop(err)
	}
	return c.end(outcome)
}

// checkIn measures the quotas since the period began and tells the
// ambassador where they stand.
func (c *candidate) checkIn(n int, since time.Time) error {
	var a *Activities
	var progress []QuotaProgress
	if err := workflow.ExecuteActivity(c.actx, a.MeasureQuotas, QuotaInput{
		Community: c.in.Community, MemberID: c.in.MemberID, Since: since, Quotas: c.p.Quotas,
	}).Get(c.ctx, &progress); err != nil {
		return err
	}
	progress = c.tally(progress)
	c.state.Quotas, c.state.CheckIns, c.state.LastCheckIn = progress, n, workflow.Now(c.ctx)
	c.note(EventCheckIn, fmt.Sprint(n))
	return c.notify([]string{c.in.MemberID}, MessageCheckIn, fmt.Sprintf("cycle-%d-check-in-%d", c.state.Cycle, n), &Message{Quotas: progress, Tier: c.state.Tier})
}

// tierReview promotes an ambassador who met every quota and demotes one
// who met fewer than half; at the lowest tier that counts as a failed
// review, and a cycle of failed reviews is not renewed.
func (c *candidate) tierReview(n int) error {
	progress := c.state.Quotas
	if len(progress) == 0 {
		return nil
	}
	met := 0
	for _, q := range progress {
		if q.Count >= q.Target {
			met++
		}
	}
	idx := slices.Index(c.p.Tiers, c.state.Tier)
	next := idx
	switch {
	case met == len(progress) && idx < len(c.p.Tiers)-1:
		next = idx + 1
	case met*2 < len(progress):
		c.state.FailedReviews++
		if idx > 0 {
			next = idx - 1
		}
	}
	if next == idx || next < 0 {
		return nil
	}
	tier := c.p.Tiers[next]
	if err := c.assignTier(tier); err != nil {
		return err
	}
	c.note(EventTier, c.state.Tier+" → "+tier)
	c.state.Tier, c.state.Capacity = tier, c.p.capacityOf(tier)
	c.upsertMemo()
	return c.notify([]string{c.in.MemberID}, MessageTierChanged, fmt.Sprintf("cycle-%d-review-%d", c.state.Cycle, n), &Message{Tier: tier})
}

// offboardNow takes the role back (when given) and thanks the member. A
// member who is gone is not thanked.
func (c *candidate) offboardNow(outcome string) (string, error) {
	c.enter(StageOffboarding)
	if !c.state.ActivatedAt.IsZero() {
		// An erased member's role cannot be touched, nor needs to be.
		if err := c.revoke(c.ctx); err != nil && !isType(err, ErrTypeInvalidRequest) {
			return "", err
		}
	}
	if err := c.notify([]string{c.in.MemberID}, MessageThankYou, fmt.Sprintf("cycle-%d-thank-you", c.state.Cycle), &Message{Tier: c.state.Tier}); err != nil {
		return "", err
	}
	return outcome, nil
}

func (c *candidate) assignTier(tier string) error {
	var a *Activities
	return workflow.ExecuteActivity(c.actx, a.AssignTier, TierInput{Community: c.in.Community, MemberID: c.in.MemberID, Tier: tier}).Get(c.ctx, nil)
}

func (c *candidate) revoke(ctx workflow.Context) error {
	var a *Activities
	o := activityOptions()
	o.ScheduleToCloseTimeout = time.Hour
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, o), a.RevokeRole, TierInput{Community: c.in.Community, MemberID: c.in.MemberID}).Get(ctx, nil)
}

// notify sends kind to each member of to; extra adds what the message
// tells. A refused or undeliverable message is noted, not fatal.
func (c *candidate) notify(to []string, kind, key string, extra *Message) error {
	if len(to) == 0 {
		return nil
	}
	m := Message{}
	if extra != nil {
		m = *extra
	}
	m.Community, m.To, m.About, m.WorkflowID, m.Kind, m.Key = c.in.Community, to, c.in.MemberID, c.id, kind, key
	var a *Activities
	var res NotifyResult
	if err := workflow.ExecuteActivity(c.actx, a.Notify, m).Get(c.ctx, &res); err != nil {
		return err
	}
	if len(res.Undelivered) > 0 {
		c.note(EventNote, kind+" not delivered to "+strings.Join(res.Undelivered, ","))
	}
	return nil
}

// changeRecordTasks marks candidacies whose completed training tasks are
// recorded as completed_task activities (version 1); older histories
// (DefaultVersion) record none.
const changeRecordTasks = "record-completed-tasks"

// changeProgrammeAtRenewal marks ambassadorships that take the
// community's current programme when renewed (version 1); older
// histories (DefaultVersion) keep theirs.
const changeProgrammeAtRenewal = "programme-at-renewal"

// ActivityCompletedTask is the activity a completed training task is.
const ActivityCompletedTask = "completed_task"

// TaskActivityInput records a completed training task in the member's
// ledger.
type TaskActivityInput struct {
	Community string
	MemberID  string
	Task      string
	// SourceEventID names the candidacy and task: it counts once.
	SourceEventID string
	At            time.Time
}

// recordTasks records the training tasks done since the last call as
// completed_task activities. A community that does not count them is
// noted, not fatal.
func (c *candidate) recordTasks() error {
	info := workflow.GetInfo(c.ctx)
	run := info.FirstRunID // a candidacy nominated again has another
	if run == "" {
		run = info.WorkflowExecution.RunID
	}
	for _, t := range c.state.Tasks {
		if !t.Done || slices.Contains(c.state.TasksRecorded, t.Name) {
			continue
		}
		var a *Activities
		err := workflow.ExecuteActivity(c.actx, a.RecordTaskCompleted, TaskActivityInput{
			Community: c.in.Community, MemberID: c.in.MemberID, Task: t.Name,
			SourceEventID: c.id + "/" + run + "/task/" + t.Name, At: t.DoneAt,
		}).Get(c.ctx, nil)
		switch {
		case isType(err, ErrTypeInvalidRequest):
			c.note(EventNote, "the members service did not record task "+t.Name+" as completed_task")
		case err != nil:
			return err
		}
		c.state.TasksRecorded = append(c.state.TasksRecorded, t.Name)
	}
	return nil
}

// CurrentProgramme is the community's current programme and its version.
type CurrentProgramme struct {
	Programme Programme
	Version   int
}

// takeCurrentProgramme gives the next cycle the community's current
// programme: changes organisers made apply from the next cycle, never to
// one in progress. The tier is kept, or the nearest the new programme
// has; a programme that cannot be read leaves the cycle's own.
func (c *candidate) takeCurrentProgramme(next *Input) error {
	var a *Activities
	var cur CurrentProgramme
	if err := workflow.ExecuteActivity(c.actx, a.ReadProgramme, c.in.Community).Get(c.ctx, &cur); err != nil {
		return err
	}
	if cur.Version == 0 || cur.Programme.Validate() != nil || cur.Version == c.in.ProgrammeVersion {
		return nil
	}
	tier := next.Renewal.Tier
	if !slices.Contains(cur.Programme.Tiers, tier) {
		i := min(max(slices.Index(c.p.Tiers, tier), 0), len(cur.Programme.Tiers)-1)
		tier = cur.Programme.Tiers[i]
	}
	next.Programme, next.ProgrammeVersion, next.Renewal.Tier = cur.Programme, cur.Version, tier
	c.note(EventNote, fmt.Sprintf("the next cycle runs programme version %d", cur.Version))
	return nil
}
