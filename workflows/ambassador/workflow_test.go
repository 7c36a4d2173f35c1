package ambassador

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// progEnv runs candidacies with recording activity mocks.
type progEnv struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	a     *Activities
	start time.Time

	mu       sync.Mutex
	sent     []sent
	tiers    []string
	revoked  int
	announce int

	// What the mocks answer.
	eligible    Eligibility
	quotas      func(n int) []QuotaProgress
	measure     func(in QuotaInput) []QuotaProgress
	measures    int
	tierErr     error
	announceErr error
	// current is the community's programme a renewal reads.
	current CurrentProgramme

	tasksRecorded []TaskActivityInput
}

type sent struct {
	kind, key string
	to        []string
	at        time.Duration
}

func newProgEnv(t *testing.T) *progEnv {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	pe := &progEnv{t: t, env: suite.NewTestWorkflowEnvironment(), a: &Activities{}, eligible: Eligibility{Eligible: true, Level: "Contributor"}}
	env, a := pe.env, pe.a
	env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivity(a)
	pe.start = env.Now()
	env.OnActivity(a.CheckEligibility, mock.Anything, mock.Anything).Return(func(context.Context, EligibilityInput) (Eligibility, error) {
		return pe.eligible, nil
	}).Maybe()
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, m Message) (NotifyResult, error) {
		pe.mu.Lock()
		defer pe.mu.Unlock()
		pe.sent = append(pe.sent, sent{kind: m.Kind, key: m.Key, to: m.To, at: env.Now().Sub(pe.start)})
		return NotifyResult{}, nil
	}).Maybe()
	env.OnActivity(a.AssignTier, mock.Anything, mock.Anything).Return(func(_ context.Context, in TierInput) error {
		pe.mu.Lock()
		defer pe.mu.Unlock()
		if pe.tierErr != nil {
			return pe.tierErr
		}
		pe.tiers = append(pe.tiers, in.Tier)
		return nil
	}).Maybe()
	env.OnActivity(a.RevokeRole, mock.Anything, mock.Anything).Return(func(context.Context, TierInput) error {
		pe.mu.Lock()
		defer pe.mu.Unlock()
		pe.revoked++
		return nil
	}).Maybe()
	env.OnActivity(a.Announce, mock.Anything, mock.Anything).Return(func(context.Context, AnnounceInput) error {
		pe.mu.Lock()
		defer pe.mu.Unlock()
		pe.announce++
		return pe.announceErr
	}).Maybe()
	env.OnActivity(a.RecordTaskCompleted, mock.Anything, mock.Anything).Return(func(_ context.Context, in TaskActivityInput) error {
		pe.mu.Lock()
		defer pe.mu.Unlock()
		pe.tasksRecorded = append(pe.tasksRecorded, in)
		return nil
	}).Maybe()
	env.OnActivity(a.ReadProgramme, mock.Anything, mock.Anything).Return(func(context.Context, string) (CurrentProgramme, error) {
		pe.mu.Lock()
		defer pe.mu.Unlock()
		return pe.current, nil
	}).Maybe()
	env.OnActivity(a.MeasureQuotas, mock.Anything, mock.Anything).Return(func(_ context.Context, in QuotaInput) ([]QuotaProgress, error) {
		pe.mu.Lock()
		defer pe.mu.Unlock()
		pe.measures++
		if pe.measure != nil {
			return pe.measure(in), nil
		}
		if pe.quotas == nil {
			return nil, nil
		}
		return pe.quotas(pe.measures), nil
	}).Maybe()
	return pe
}

// programme is the default one with a named reviewer and escalation.
func programme() Programme {
	p := DefaultProgramme()
	p.Reviewers, p.EscalateTo = []string{"org1"}, []string{"lead"}
	p.AnnouncementTemplate = "ambassador-welcome"
	return p
}

func (pe *progEnv) at(d time.Duration, f func()) { pe.env.RegisterDelayedCallback(f, d) }

func (pe *progEnv) signal(name string, arg any) { pe.env.SignalWorkflow(name, arg) }

func (pe *progEnv) approve(reviewer string) {
	pe.signal(SignalReview, Review{ReviewerID: reviewer, Approve: true})
}

func (pe *progEnv) completeTraining() {
	for _, t := range DefaultProgramme().Training {
		pe.signal(SignalTaskCompleted, TaskDone{Task: t.Name})
	}
}

func (pe *progEnv) run(p Programme, renewal *Renewal) {
	pe.env.ExecuteWorkflow(WorkflowName, Input{Community: "demo", MemberID: "cand", Programme: p, Renewal: renewal,
		Nomination: Nomination{By: "org1", Kind: NominatedByOrganiser}})
}

func (pe *progEnv) state() State {
	pe.t.Helper()
	v, err := pe.env.QueryWorkflow(QueryState)
	if err != nil {
		pe.t.Fatal(err)
	}
	var s State
	if err := v.Get(&s); err != nil {
		pe.t.Fatal(err)
	}
	return s
}

func (pe *progEnv) outcome() string {
	pe.t.Helper()
	if err := pe.env.GetWorkflowError(); err != nil {
		pe.t.Fatalf("candidacy failed: %v", err)
	}
	var r Result
	if err := pe.env.GetWorkflowResult(&r); err != nil {
		pe.t.Fatal(err)
	}
	return r.Outcome
}

func (pe *progEnv) kinds() []string {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	var out []string
	for _, s := range pe.sent {
		out = append(out, s.kind)
	}
	return out
}

func (pe *progEnv) sentOf(kind string) []sent {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	var out []sent
	for _, s := range pe.sent {
		if s.kind == kind {
			out = append(out, s)
		}
	}
	return out
}

// continued returns the input of the next cycle, failing when the
// workflow did not continue as new.
func (pe *progEnv) continued() Input {
	pe.t.Helper()
	var can *workflow.ContinueAsNewError
	if err := pe.env.GetWorkflowError(); !errors.As(err, &can) {
		pe.t.Fatalf("error = %v, want continue-as-new", err)
	}
	var in Input
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
		pe.t.Fatal(err)
	}
	return in
}

func TestAnIneligibleNominationEndsAtOnce(t *testing.T) {
	pe := newProgEnv(t)
	pe.eligible = Eligibility{Level: "Observer", Reasons: []string{`level "Observer" is below "Participant"`}}
	pe.run(programme(), nil)
	if o := pe.outcome(); o != OutcomeIneligible {
		t.Errorf("outcome %q", o)
	}
	if s := pe.state(); s.Eligibility.Eligible || len(pe.kinds()) != 0 {
		t.Errorf("state %+v, messages %v", s, pe.kinds())
	}
}

func TestAnApprovedCandidateIsTrainedActivatedAndOffboardedWithThanks(t *testing.T) {
	pe := newProgEnv(t)
	var inReview, inTraining, active State
	pe.at(time.Hour, func() {
		inReview = pe.state()
		pe.approve("org1")
	})
	pe.at(2*time.Hour, func() {
		inTraining = pe.state()
		pe.completeTraining()
	})
	pe.at(3*time.Hour, func() {
		active = pe.state()
		pe.signal(SignalOffboard, nil)
	})
	pe.run(programme(), nil)

	if o := pe.outcome(); o != OutcomeOffboarded {
		t.Errorf("outcome %q", o)
	}
	if inReview.Stage != StageReview || !slices.Equal(inReview.Reviewers, []string{"org1"}) || !inReview.NextDeadline.Equal(pe.start.Add(7*day)) {
		t.Errorf("in review: %+v", inReview)
	}
	if inTraining.Stage != StageTraining || len(inTraining.Tasks) != 3 || !inTraining.Tasks[0].Due.Equal(pe.start.Add(time.Hour+7*day)) {
		t.Errorf("in training: %+v", inTraining)
	}
	if active.Stage != StageActive || active.Tier != "bronze" || active.Capacity != 3 || active.ActivatedAt.IsZero() {
		t.Errorf("active: %+v", active)
	}
	want := []string{MessageReviewRequest, MessageTrainingStarted, MessageActivated, MessageThankYou}
	if got := pe.kinds(); !slices.Equal(got, want) {
		t.Errorf("messages %v, want %v", got, want)
	}
	if !slices.Equal(pe.tiers, []string{"bronze"}) || pe.revoked != 1 || pe.announce != 1 {
		t.Errorf("tiers %v, revoked %d, announced %d", pe.tiers, pe.revoked, pe.announce)
	}
	if r := pe.sentOf(MessageReviewRequest)[0]; !slices.Equal(r.to, []string{"org1"}) {
		t.Errorf("review request went to %v", r.to)
	}
}

func TestARejectedNominationIsDeclined(t *testing.T) {
	pe := newProgEnv(t)
	pe.at(time.Hour, func() { pe.signal(SignalReview, Review{ReviewerID: "org1", Approve: false}) })
	pe.run(programme(), nil)
	if o := pe.outcome(); o != OutcomeDeclined {
		t.Errorf("outcome %q", o)
	}
	if got := pe.kinds(); !slices.Equal(got, []string{MessageReviewRequest, MessageDeclined}) {
		t.Errorf("messages %v", got)
	}
	if len(pe.tiers) != 0 {
		t.Error("a declined candidate got a role")
	}
}

func TestReviewEscalatesThenExpires(t *testing.T) {
	pe := newProgEnv(t)
	pe.run(programme(), nil)
	if o := pe.outcome(); o != OutcomeReviewExpired {
		t.Errorf("outcome %q", o)
	}
	esc := pe.sentOf(MessageReviewEscalation)
	if len(esc) != 1 || esc[0].at != 7*day || !slices.Equal(esc[0].to, []string{"org1", "lead"}) {
		t.Errorf("escalation %+v", esc)
	}
	if s := pe.state(); !s.Escalated || s.History[len(s.History)-1].At.Sub(pe.start) != 21*day {
		t.Errorf("expired state %+v", s)
	}
}

func TestOnlyReviewersDecideUnlessOverridden(t *testing.T) {
	t.Run("a stranger's review is ignored, the escalation contact's counts", func(t *testing.T) {
		pe := newProgEnv(t)
		var s State
		pe.at(time.Hour, func() { pe.approve("stranger") })
		pe.at(2*time.Hour, func() { s = pe.state() })
		pe.at(8*day, func() { pe.approve("lead") })
		pe.at(9*day, func() { pe.signal(SignalOffboard, nil) })
		pe.run(programme(), nil)
		if s.Stage != StageReview || len(s.Reviews) != 0 {
			t.Errorf("after a stranger's review: %+v", s)
		}
		if o := pe.outcome(); o != OutcomeWithdrawn {
			t.Errorf("outcome %q (training should have begun after lead's approval)", o)
		}
		if !slices.Contains(pe.kinds(), MessageTrainingStarted) {
			t.Errorf("messages %v", pe.kinds())
		}
	})
	t.Run("a platform admin's override decides", func(t *testing.T) {
		pe := newProgEnv(t)
		p := programme()
		p.Approvals = 2
		p.Reviewers = []string{"org1", "org2"}
		pe.at(time.Hour, func() { pe.signal(SignalReview, Review{ReviewerID: "admin", Approve: true, Override: true}) })
		pe.at(2*time.Hour, func() { pe.signal(SignalOffboard, nil) })
		pe.run(p, nil)
		if !slices.Contains(pe.kinds(), MessageTrainingStarted) {
			t.Errorf("messages %v", pe.kinds())
		}
	})
	t.Run("two approvals when two are needed", func(t *testing.T) {
		pe := newProgEnv(t)
		p := programme()
		p.Approvals = 2
		p.Reviewers = []string{"org1", "org2"}
		var afterOne State
		pe.at(time.Hour, func() {
			pe.approve("org1")
			pe.approve("org1") // twice counts once
		})
		pe.at(2*time.Hour, func() {
			afterOne = pe.state()
			pe.approve("org2")
		})
		pe.at(3*time.Hour, func() { pe.signal(SignalOffboard, nil) })
		pe.run(p, nil)
		if afterOne.Stage != StageReview || len(afterOne.Reviews) != 1 {
			t.Errorf("after one approval: %+v", afterOne)
		}
		if !slices.Contains(pe.kinds(), MessageTrainingStarted) {
			t.Errorf("messages %v", pe.kinds())
		}
	})
}

func TestTrainingRemindsWarnsAndExpires(t *testing.T) {
	pe := newProgEnv(t)
	pe.at(time.Hour, func() { pe.approve("org1") })
	pe.at(2*time.Hour, func() { pe.signal(SignalTaskCompleted, TaskDone{Task: "code-of-conduct"}) })
	pe.at(3*time.Hour, func() { pe.signal(SignalTaskCompleted, TaskDone{Task: "no-such-task"}) })
	pe.run(programme(), nil)
	if o := pe.outcome(); o != OutcomeTrainingExpired {
		t.Errorf("outcome %q", o)
	}
	var reminders []string
	for _, s := range pe.sentOf(MessageTaskReminder) {
		reminders = append(reminders, fmt.Sprintf("%s@%v", s.key, s.at-time.Hour))
	}
	want := []string{"task-reminder-ambassador-handbook@288h0m0s", "task-reminder-host-an-event-training@456h0m0s"}
	if !slices.Equal(reminders, want) {
		t.Errorf("reminders %v, want %v (none for the completed task)", reminders, want)
	}
	if over := pe.sentOf(MessageTaskOverdue); len(over) != 2 || over[0].at-time.Hour != 14*day {
		t.Errorf("overdue notices %+v", over)
	}
	s := pe.state()
	if end := s.History[len(s.History)-1].At.Sub(pe.start) - time.Hour; end != 28*day {
		t.Errorf("training expired after %v, want the last due (21d) plus grace (7d)", end)
	}
}

// activeInput skips to the active cycle, as a renewal does.
func activeRenewal() *Renewal {
	return &Renewal{Cycle: 0, Tier: "bronze", ActivatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func met(n int) []QuotaProgress {
	return []QuotaProgress{{Activity: "hosted_event", Target: 1, Count: 1}, {Activity: "referred_member", Target: 1, Count: 2}}
}

func missed(int) []QuotaProgress {
	return []QuotaProgress{{Activity: "hosted_event", Target: 1, Count: 0}, {Activity: "referred_member", Target: 1, Count: 0}}
}

func TestAYearOfMetQuotasPromotesAndRenews(t *testing.T) {
	pe := newProgEnv(t)
	pe.quotas = met
	var midway State
	pe.at(95*day, func() { midway = pe.state() })
	pe.run(programme(), activeRenewal())
	next := pe.continued()
	if next.Renewal == nil || next.Renewal.Cycle != 1 || next.Renewal.Tier != "gold" || !next.Renewal.ActivatedAt.Equal(activeRenewal().ActivatedAt) {
		t.Errorf("next cycle %+v", next.Renewal)
	}
	if !slices.Equal(pe.tiers, []string{"silver", "gold"}) {
		t.Errorf("tiers %v: promoted at the first two reviews, gold is the top", pe.tiers)
	}
	checkIns := pe.sentOf(MessageCheckIn)
	if len(checkIns) != 12 || checkIns[0].at != 30*day || checkIns[11].at != 360*day || checkIns[11].key != "cycle-0-check-in-12" {
		t.Errorf("%d check-ins, first %+v", len(checkIns), checkIns)
	}
	if midway.Tier != "silver" || midway.Capacity != 5 || midway.CheckIns != 3 || len(midway.Quotas) != 2 {
		t.Errorf("after the first review %+v", midway)
	}
	if r := pe.sentOf(MessageRenewed); len(r) != 1 || r[0].at != 360*day {
		t.Errorf("renewal messages %+v", r)
	}
}

func TestAYearOfMissedQuotasIsNotRenewed(t *testing.T) {
	pe := newProgEnv(t)
	pe.quotas = missed
	pe.run(programme(), &Renewal{Cycle: 2, Tier: "silver", ActivatedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	if o := pe.outcome(); o != OutcomeNotRenewed {
		t.Errorf("outcome %q", o)
	}
	if !slices.Equal(pe.tiers, []string{"bronze"}) || pe.revoked != 1 {
		t.Errorf("tiers %v, revoked %d: demoted once, then the role taken back", pe.tiers, pe.revoked)
	}
	if thanks := pe.sentOf(MessageThankYou); len(thanks) != 1 || thanks[0].key != "cycle-2-thank-you" {
		t.Errorf("thank-you %+v", thanks)
	}
}

func TestBuddiesFitTheTiersCapacity(t *testing.T) {
	pe := newProgEnv(t)
	results := map[string]string{}
	reserve := func(id, member string) {
		pe.env.UpdateWorkflow(UpdateReserveBuddy, id, &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { results[id] = "rejected: " + err.Error() },
			OnAccept:   func() {},
			OnComplete: func(v any, err error) { results[id] = fmt.Sprint("accepted ", v, err) },
		}, BuddyRequest{MemberID: member})
	}
	var s State
	pe.at(time.Hour, func() {
		for i := 1; i <= 4; i++ {
			reserve(fmt.Sprint("r", i), fmt.Sprint("m", i))
		}
		reserve("again", "m1")
	})
	pe.at(2*time.Hour, func() {
		pe.signal(SignalReleaseBuddy, BuddyRequest{MemberID: "m2"})
	})
	pe.at(3*time.Hour, func() { reserve("after-release", "m4") })
	pe.at(4*time.Hour, func() {
		s = pe.state()
		pe.signal(SignalOffboard, nil)
	})
	pe.run(programme(), activeRenewal())
	for id, want := range map[string]string{"r1": "accepted true", "r3": "accepted true", "again": "accepted true", "after-release": "accepted true"} {
		if !strings.HasPrefix(results[id], want) {
			t.Errorf("%s: %s, want %s", id, results[id], want)
		}
	}
	if !strings.Contains(results["r4"], "no room") {
		t.Errorf("fourth reservation at capacity 3: %s", results["r4"])
	}
	if !slices.Equal(s.Buddies, []string{"m1", "m3", "m4"}) {
		t.Errorf("buddies %v", s.Buddies)
	}
}

func TestCandidatesTakeNoBuddies(t *testing.T) {
	pe := newProgEnv(t)
	var result string
	pe.at(time.Hour, func() {
		pe.env.UpdateWorkflow(UpdateReserveBuddy, "r", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { result = err.Error() }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, BuddyRequest{MemberID: "m1"})
	})
	pe.at(2*time.Hour, func() { pe.signal(SignalOffboard, nil) })
	pe.run(programme(), nil)
	if !strings.Contains(result, "not an active ambassador") {
		t.Errorf("reservation in review: %q", result)
	}
	if o := pe.outcome(); o != OutcomeWithdrawn || pe.revoked != 0 {
		t.Errorf("outcome %q, revoked %d: a withdrawn candidate has no role to revoke", o, pe.revoked)
	}
	if !slices.Contains(pe.kinds(), MessageThankYou) {
		t.Errorf("messages %v", pe.kinds())
	}
}

func TestCancellingAnAmbassadorshipTakesTheRoleBack(t *testing.T) {
	pe := newProgEnv(t)
	pe.at(40*day, func() { pe.env.CancelWorkflow() })
	pe.run(programme(), activeRenewal())
	if err := pe.env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("error %v", err)
	}
	if pe.revoked != 1 || slices.Contains(pe.kinds(), MessageThankYou) {
		t.Errorf("revoked %d, messages %v", pe.revoked, pe.kinds())
	}
}

func TestACandidateWhoLeftEndsQuietly(t *testing.T) {
	pe := newProgEnv(t)
	pe.tierErr = temporal.NewNonRetryableApplicationError("gone", ErrTypeMemberNotFound, nil)
	p := programme()
	p.Training = nil
	pe.at(time.Hour, func() { pe.approve("org1") })
	pe.run(p, nil)
	if o := pe.outcome(); o != OutcomeMemberGone {
		t.Errorf("outcome %q", o)
	}
}

func TestAMissingAnnouncementTemplateDoesNotStopActivation(t *testing.T) {
	pe := newProgEnv(t)
	pe.announceErr = temporal.NewNonRetryableApplicationError("template not found", ErrTypeNotFound, nil)
	p := programme()
	p.Training = nil
	var s State
	pe.at(time.Hour, func() { pe.approve("org1") })
	pe.at(2*time.Hour, func() {
		s = pe.state()
		pe.signal(SignalOffboard, nil)
	})
	pe.run(p, nil)
	if s.Stage != StageActive {
		t.Errorf("stage %q", s.Stage)
	}
	found := slices.ContainsFunc(s.History, func(e Entry) bool { return strings.Contains(e.Detail, "no announcement") })
	if !found {
		t.Errorf("history %+v", s.History)
	}
}

func TestAnInvalidProgrammeIsRefused(t *testing.T) {
	pe := newProgEnv(t)
	p := programme()
	p.Tiers = nil
	pe.run(p, nil)
	var appErr *temporal.ApplicationError
	if err := pe.env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != ErrTypeInvalidRequest || !strings.Contains(err.Error(), "tiers") {
		t.Errorf("error %v", err)
	}
}

func TestEscalationWithoutContactsRemindsTheReviewers(t *testing.T) {
	pe := newProgEnv(t)
	p := programme()
	p.EscalateTo = nil
	pe.at(8*day, func() { pe.approve("org1") })
	pe.at(9*day, func() { pe.signal(SignalOffboard, nil) })
	pe.run(p, nil)
	if esc := pe.sentOf(MessageReviewEscalation); len(esc) != 1 || !slices.Equal(esc[0].to, []string{"org1"}) {
		t.Errorf("escalation %+v", esc)
	}
	if o := pe.outcome(); o != OutcomeWithdrawn {
		t.Errorf("outcome %q", o)
	}
}

func TestAnOffboardingAskedAtRenewalIsNotLost(t *testing.T) {
	pe := newProgEnv(t)
	pe.quotas = met
	p := programme()
	p.CheckIns, p.ReviewEvery = 1, 1
	// The request arrives with the year's last check-in.
	pe.at(30*day, func() { pe.signal(SignalOffboard, nil) })
	pe.run(p, activeRenewal())
	if o := pe.outcome(); o != OutcomeOffboarded {
		t.Errorf("outcome %q, want the ambassador offboarded rather than renewed", o)
	}
}

func TestTrainingWithoutReminders(t *testing.T) {
	pe := newProgEnv(t)
	p := programme()
	p.RemindBefore = 0
	pe.at(time.Hour, func() { pe.approve("org1") })
	pe.at(10*day, func() { pe.completeTraining() })
	pe.at(11*day, func() { pe.signal(SignalOffboard, nil) })
	pe.run(p, nil)
	if len(pe.sentOf(MessageTaskReminder)) != 0 || len(pe.sentOf(MessageTaskOverdue)) != 1 {
		t.Errorf("reminders %d, overdue %d: no reminders, the first task overdue on day 7", len(pe.sentOf(MessageTaskReminder)), len(pe.sentOf(MessageTaskOverdue)))
	}
	if !slices.Contains(pe.kinds(), MessageActivated) {
		t.Errorf("messages %v", pe.kinds())
	}
}

// busyLedger is what the members service's recent activities show an
// active ambassador: the last 20 are forum posts and RSVPs, so the event
// they hosted and the member they referred are no longer among them.
func busyLedger(in QuotaInput) []QuotaProgress {
	var out []QuotaProgress
	for _, q := range in.Quotas {
		out = append(out, QuotaProgress{Activity: q.Activity, Target: q.Count})
	}
	return out
}

// TestAHealthyAmbassadorPassesAYearWithoutManualRecords runs a whole
// programme year under the default programme with the test clock:
// nomination, review, training (each completed task recorded as a
// completed_task activity), activation, twelve monthly check-ins and four
// reviews. Nobody records anything by hand: the ambassador hosts an event
// each quarter and refers a member once, which the members service
// records and the trigger reports (SignalActivityRecorded) — while their
// busy ledger's last 20 activities show neither. Every review passes, one
// promotes, and the year is renewed.
func TestAHealthyAmbassadorPassesAYearWithoutManualRecords(t *testing.T) {
	pe := newProgEnv(t)
	pe.measure = busyLedger
	p := DefaultProgramme() // hosted_event and referred_member each quarter, reviewed every 3 check-ins
	pe.at(time.Hour, func() { pe.approve("org1") })
	for i, task := range p.Training {
		pe.at(time.Duration(i+2)*day, func() { pe.signal(SignalTaskCompleted, TaskDone{Task: task.Name}) })
	}
	// Training ends on day 4 with the last task: the active year starts.
	activated := 4 * day
	report := func(at time.Duration, id, typ string) {
		pe.at(at, func() {
			pe.signal(SignalActivityRecorded, ActivityCounted{ID: id, Type: typ, OccurredAt: pe.start.Add(at)})
		})
	}
	for q := range 4 {
		quarter := activated + time.Duration(q)*90*day
		report(quarter+20*day, fmt.Sprintf("hosted-%d", q), "hosted_event")
		report(quarter+21*day, fmt.Sprintf("hosted-%d", q), "hosted_event") // a redelivered event counts once
		report(quarter+22*day, fmt.Sprintf("post-%d", q), "posted")         // no quota counts posts
	}
	report(activated+100*day, "referral-1", "referred_member")
	var afterFirstReview State
	pe.at(activated+91*day, func() { afterFirstReview = pe.state() })

	pe.run(p, nil)

	next := pe.continued()
	if next.Renewal == nil || next.Renewal.Cycle != 1 {
		t.Fatalf("the year was not renewed: %+v", next.Renewal)
	}
	if next.Renewal.Tier != "silver" || !slices.Equal(pe.tiers, []string{"bronze", "silver"}) {
		t.Errorf("tier %q after tiers %v: the second quarter met both quotas and promotes; the others keep the tier", next.Renewal.Tier, pe.tiers)
	}
	if q := afterFirstReview.Quotas; len(q) != 2 || q[0].Activity != "hosted_event" || q[0].Count != 1 || q[1].Count != 0 || afterFirstReview.FailedReviews != 0 {
		t.Errorf("after the first review: quotas %+v, failed reviews %d", q, afterFirstReview.FailedReviews)
	}
	if len(pe.sentOf(MessageCheckIn)) != 12 || len(pe.sentOf(MessageRenewed)) != 1 || len(pe.sentOf(MessageThankYou)) != 0 {
		t.Errorf("messages %v", pe.kinds())
	}
	var recorded []string
	for _, r := range pe.tasksRecorded {
		recorded = append(recorded, r.Task)
		if !strings.HasSuffix(r.SourceEventID, "/task/"+r.Task) || strings.Contains(r.SourceEventID, "//") || r.At.IsZero() {
			t.Errorf("task recorded as %+v", r)
		}
	}
	if !slices.Equal(recorded, []string{"code-of-conduct", "ambassador-handbook", "host-an-event-training"}) {
		t.Errorf("completed_task activities for %v, want each training task once", recorded)
	}
}

// TestAnIdleAmbassadorIsNotRenewed is the same year with nothing done:
// every review fails and the role is taken back.
func TestAnIdleAmbassadorIsNotRenewed(t *testing.T) {
	pe := newProgEnv(t)
	pe.measure = busyLedger
	pe.run(DefaultProgramme(), &Renewal{Tier: "bronze", ActivatedAt: pe.start})
	if o := pe.outcome(); o != OutcomeNotRenewed || pe.revoked != 1 {
		t.Errorf("outcome %q, revoked %d", o, pe.revoked)
	}
}

// TestProgrammeChangesApplyFromTheNextCycle changes the programme in the
// middle of a year: the year runs as it began, the renewal takes the
// new version (keeping the nearest tier the new programme has).
func TestProgrammeChangesApplyFromTheNextCycle(t *testing.T) {
	pe := newProgEnv(t)
	pe.quotas = met
	changed := DefaultProgramme()
	changed.Tiers, changed.Capacity = []string{"seed", "tree"}, []int{2, 4}
	changed.CheckIns, changed.ReviewEvery = 4, 2
	var midway State
	pe.at(100*day, func() {
		pe.mu.Lock()
		pe.current = CurrentProgramme{Programme: changed, Version: 7}
		pe.mu.Unlock()
	})
	pe.at(200*day, func() { midway = pe.state() })
	in := Input{Community: "demo", MemberID: "cand", Programme: programme(), ProgrammeVersion: 3,
		Nomination: Nomination{By: "org1", Kind: NominatedByOrganiser}, Renewal: activeRenewal()}
	pe.env.ExecuteWorkflow(WorkflowName, in)
	next := pe.continued()
	if midway.ProgrammeVersion != 3 || len(pe.sentOf(MessageCheckIn)) != 12 {
		t.Errorf("the year in progress changed: version %d, %d check-ins", midway.ProgrammeVersion, len(pe.sentOf(MessageCheckIn)))
	}
	if next.ProgrammeVersion != 7 || next.Programme.CheckIns != 4 || next.Renewal.Tier != "tree" {
		t.Errorf("next cycle runs version %d with %d check-ins at tier %q; want version 7, 4, tree (gold's nearest)",
			next.ProgrammeVersion, next.Programme.CheckIns, next.Renewal.Tier)
	}
}
