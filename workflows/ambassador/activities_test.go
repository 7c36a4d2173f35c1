package ambassador

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/templates"
	"github.com/kinshiphq/kinship/internal/validate"
	commsdomain "github.com/kinshiphq/kinship/services/communications/domain"
)

func runActivity(t *testing.T, a *Activities, fn, in, out any) error {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	v, err := env.ExecuteActivity(fn, in)
	if err == nil && out != nil {
		if gerr := v.Get(out); gerr != nil {
			t.Fatal(gerr)
		}
	}
	return err
}

func TestEligibilityChecksLevelActivityStatusAndRole(t *testing.T) {
	criteria := DefaultProgramme().Criteria
	week := 7 * 24 * time.Hour
	tests := []struct {
		name    string
		members *fakeMembers
		eng     *fakeEngagement
		want    []string // reasons, by a word each holds
	}{
		{"eligible", &fakeMembers{}, &fakeEngagement{level: "Contributor", recent: []*membersv1.Activity{activityOf("rsvp", week)}}, nil},
		{"level too low", &fakeMembers{}, &fakeEngagement{level: "Observer", recent: []*membersv1.Activity{activityOf("rsvp", week)}}, []string{"below"}},
		{"not active lately", &fakeMembers{}, &fakeEngagement{level: "Core", recent: []*membersv1.Activity{activityOf("rsvp", 10*week)}}, []string{"activities in the last"}},
		{"left", &fakeMembers{statuses: map[string]membersv1.MemberStatus{"m1": membersv1.MemberStatus_MEMBER_STATUS_LEFT}},
			&fakeEngagement{level: "Core", recent: []*membersv1.Activity{activityOf("rsvp", week)}}, []string{"not active"}},
		{"an ambassador already", &fakeMembers{ambassy: true}, &fakeEngagement{level: "Core", recent: []*membersv1.Activity{activityOf("rsvp", week)}}, []string{"already"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Activities{Members: tt.members, Engagement: tt.eng}
			var e Eligibility
			if err := runActivity(t, a, a.CheckEligibility, EligibilityInput{Community: "demo", MemberID: "m1", Criteria: criteria}, &e); err != nil {
				t.Fatal(err)
			}
			if e.Eligible != (len(tt.want) == 0) || len(e.Reasons) != len(tt.want) {
				t.Fatalf("eligibility %+v, want reasons with %v", e, tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(e.Reasons[i], w) {
					t.Errorf("reason %q lacks %q", e.Reasons[i], w)
				}
			}
		})
	}
	unknown := criteria
	unknown.MinLevel = "Legend"
	a := &Activities{Members: &fakeMembers{}, Engagement: &fakeEngagement{level: "Core", recent: []*membersv1.Activity{activityOf("rsvp", week)}}}
	var e Eligibility
	if err := runActivity(t, a, a.CheckEligibility, EligibilityInput{Community: "demo", MemberID: "m1", Criteria: unknown}, &e); err != nil || e.Eligible {
		t.Errorf("an unknown level in the criteria: %+v, %v", e, err)
	}
	gone := &Activities{Members: &fakeMembers{gone: map[string]bool{"m1": true}}, Engagement: &fakeEngagement{}}
	if err := runActivity(t, gone, gone.CheckEligibility, EligibilityInput{Community: "demo", MemberID: "m1", Criteria: criteria}, nil); !isNonRetryable(err, ErrTypeMemberNotFound) {
		t.Errorf("a member who is gone: %v", err)
	}
}

func isNonRetryable(err error, typ string) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.NonRetryable() && appErr.Type() == typ
}

func TestQuotasCountActivitiesOfThePeriod(t *testing.T) {
	since := time.Now().Add(-30 * 24 * time.Hour)
	eng := &fakeEngagement{recent: []*membersv1.Activity{
		activityOf("hosted_event", 24*time.Hour), activityOf("hosted_event", 40*24*time.Hour), activityOf("referred_member", time.Hour), activityOf("referred_member", 2*time.Hour),
	}}
	a := &Activities{Engagement: eng}
	var got []QuotaProgress
	if err := runActivity(t, a, a.MeasureQuotas, QuotaInput{Community: "demo", MemberID: "m1", Since: since, Quotas: DefaultProgramme().Quotas}, &got); err != nil {
		t.Fatal(err)
	}
	want := []QuotaProgress{{Activity: "hosted_event", Target: 1, Count: 1}, {Activity: "referred_member", Target: 1, Count: 2}}
	if !slices.Equal(got, want) {
		t.Errorf("progress %+v, want %+v", got, want)
	}
}

func TestRolesAreAssignedAndRevokedIdempotently(t *testing.T) {
	members := &fakeMembers{}
	a := &Activities{Members: members}
	if err := runActivity(t, a, a.AssignTier, TierInput{Community: "demo", MemberID: "m1", Tier: "silver"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := runActivity(t, a, a.RevokeRole, TierInput{Community: "demo", MemberID: "m1"}, nil); err != nil {
		t.Fatal(err)
	}
	if got := members.assigned(); !slices.Equal(got, []string{"ambassador:silver", "-ambassador"}) {
		t.Errorf("roles %v", got)
	}
	members.notHeld = true
	if err := runActivity(t, a, a.RevokeRole, TierInput{Community: "demo", MemberID: "m1"}, nil); err != nil {
		t.Errorf("revoking a role already gone: %v", err)
	}
}

func TestNotifySendsEachRecipientOnceAndSkipsTheGone(t *testing.T) {
	comms := &fakeComms{}
	a := &Activities{Members: &fakeMembers{gone: map[string]bool{"ghost": true}}, Communications: comms}
	var res NotifyResult
	m := Message{Community: "demo", To: []string{"org1", "ghost", "org2"}, About: "cand", WorkflowID: WorkflowID("demo", "cand"), Kind: MessageReviewRequest, Key: "review-request"}
	if err := runActivity(t, a, a.Notify, m, &res); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Undelivered, []string{"ghost"}) {
		t.Errorf("undelivered %v", res.Undelivered)
	}
	if got := comms.keys(); !slices.Equal(got, []string{"ambassador/demo/cand/review-request/org1", "ambassador/demo/cand/review-request/org2"}) {
		t.Errorf("keys %v", got)
	}
	first := comms.sent[0]
	if first.GetToEmail() != "org1@example.org" || first.GetTemplate() != "ambassador-review-request" ||
		first.GetVariables()["candidate_name"] != "Name of cand" || first.GetVariables()["candidate_id"] != "cand" || first.GetTextBody() != "" {
		t.Errorf("sent %v", first)
	}

	// Every kind has its template, made with its default text once; an
	// unknown kind is refused.
	tpl := &fakeTemplates{}
	a.Templates = templates.NewEnsurer(tpl, time.Hour)
	for _, kind := range Kinds() {
		m := Message{Community: "demo", To: []string{"cand"}, About: "cand", WorkflowID: "w", Kind: kind, Key: kind,
			Tasks: []string{"code-of-conduct", "handbook"}, Tier: "silver", Quotas: []QuotaProgress{{Activity: "hosted_event", Target: 1}}}
		for range 2 {
			if err := runActivity(t, a, a.Notify, m, nil); err != nil {
				t.Errorf("%s: %v", kind, err)
			}
		}
	}
	if len(tpl.saved) != len(Kinds()) {
		t.Errorf("made templates %v, want each kind's once", tpl.saved)
	}
	last := comms.sent[len(comms.sent)-1].GetVariables()
	if last["tasks"] != "- code-of-conduct\n- handbook\n" || last["quotas"] != "- hosted event: 0 of 1\n" || last["tier"] != "silver" {
		t.Errorf("variables %v", last)
	}
	if err := runActivity(t, a, a.Notify, Message{Community: "demo", To: []string{"cand"}, About: "cand", Kind: "sonnet"}, nil); err == nil {
		t.Error("an unknown kind was sent")
	}
	bounced := &Activities{Members: &fakeMembers{}, Communications: &fakeComms{status: communicationsv1.MessageStatus_MESSAGE_STATUS_FAILED}}
	if err := runActivity(t, bounced, bounced.Notify, Message{Community: "demo", To: []string{"cand"}, About: "cand", WorkflowID: "w", Kind: MessageActivated, Key: "k"}, &res); err != nil || len(res.Undelivered) != 1 {
		t.Errorf("refused mail: %+v, %v", res, err)
	}
}

// TestDefaultTemplatesAreValidTemplates saves every default text through
// the communications service's own rules.
func TestDefaultTemplatesAreValidTemplates(t *testing.T) {
	for _, kind := range Kinds() {
		d, ok := DefaultTemplate(kind)
		if !ok {
			t.Fatalf("%s has no default text", kind)
		}
		if _, err := commsdomain.NewTemplate("demo", d.Name, []commsdomain.Variant{{Subject: d.Subject, Text: d.TextBody}}, time.Now()); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
}

func TestCompletedTasksAreRecordedOnceAsActivities(t *testing.T) {
	eng := &fakeEngagement{}
	a := &Activities{Engagement: eng}
	in := TaskActivityInput{Community: "demo", MemberID: "cand", Task: "code-of-conduct", SourceEventID: "ambassador/demo/cand/run/task/code-of-conduct", At: time.Now()}
	if err := runActivity(t, a, a.RecordTaskCompleted, in, nil); err != nil {
		t.Fatal(err)
	}
	got := eng.recorded[0]
	if got.GetType() != ActivityCompletedTask || got.GetSourceEventId() != in.SourceEventID || got.GetProperties()["task"] != "code-of-conduct" {
		t.Errorf("recorded %v", got)
	}
	eng.err = connect.NewError(connect.CodeInvalidArgument, errors.New("type: is not an activity type of the community"))
	if err := runActivity(t, a, a.RecordTaskCompleted, in, nil); !isNonRetryable(err, ErrTypeInvalidRequest) {
		t.Errorf("a refused activity: %v", err)
	}
}

func TestAnnounceUsesTheTemplateOnce(t *testing.T) {
	ann := &fakeAnnouncements{}
	a := &Activities{Members: &fakeMembers{}, Announcements: ann}
	in := AnnounceInput{Community: "demo", MemberID: "cand", WorkflowID: WorkflowID("demo", "cand"), Template: "ambassador-welcome"}
	if err := runActivity(t, a, a.Announce, in, nil); err != nil {
		t.Fatal(err)
	}
	r := ann.reqs[0]
	if r.GetTemplate() != "ambassador-welcome" || r.GetIdempotencyKey() != "ambassador/demo/cand/announce" || r.GetVariables()["ambassador_name"] != "Name of cand" {
		t.Errorf("announced %v", r)
	}
	ann.err = connect.NewError(connect.CodeNotFound, errors.New("template not found"))
	if err := runActivity(t, a, a.Announce, in, nil); !isNonRetryable(err, ErrTypeNotFound) {
		t.Errorf("missing template: %v", err)
	}
}

func TestProgrammeValidationNamesTheField(t *testing.T) {
	if err := DefaultProgramme().Validate(); err != nil {
		t.Fatalf("default programme: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Programme)
		field  string
	}{
		{"no tiers", func(p *Programme) { p.Tiers, p.Capacity = nil, nil }, "tiers"},
		{"capacity per tier", func(p *Programme) { p.Capacity = []int{1} }, "capacity"},
		{"expiry before escalation", func(p *Programme) { p.ExpireAfter = p.EscalateAfter }, "expire_after"},
		{"task named twice", func(p *Programme) { p.Training = append(p.Training, p.Training[0]) }, "training[3].name"},
		{"task without deadline", func(p *Programme) { p.Training[1].Due = 0 }, "training[1].due"},
		{"quota activity", func(p *Programme) { p.Quotas[0].Activity = "Hosted Event" }, "quotas[0].activity"},
		{"quota beyond what is counted", func(p *Programme) { p.Quotas[0].Count = 21 }, "quotas[0].count"},
		{"check-ins fewer than a review", func(p *Programme) { p.CheckIns = 2 }, "check_ins"},
		{"approvals beyond reviewers", func(p *Programme) { p.Reviewers, p.Approvals = []string{"a"}, 2 }, "approvals"},
		{"bad template", func(p *Programme) { p.AnnouncementTemplate = "Welcome!" }, "announcement_template"},
		{"window for activities", func(p *Programme) { p.Criteria.ActiveWithin = 0 }, "criteria.active_within"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultProgramme()
			tt.change(&p)
			var fields []string
			for _, f := range validate.FieldErrors(p.Validate()) {
				fields = append(fields, f.Field)
			}
			if !slices.Contains(fields, tt.field) {
				t.Errorf("fields %v, want %s", fields, tt.field)
			}
		})
	}
}
