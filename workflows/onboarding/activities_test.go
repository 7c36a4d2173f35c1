package onboarding

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/templates"
	commsdomain "github.com/kinshiphq/kinship/services/communications/domain"
)

func runActivity(t *testing.T, a *Activities, fn any, in any) (testsuiteValue, error) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	v, err := env.ExecuteActivity(fn, in)
	return testsuiteValue{v}, err
}

type testsuiteValue struct {
	v interface{ Get(any) error }
}

func (v testsuiteValue) into(t *testing.T, out any) {
	t.Helper()
	if err := v.v.Get(out); err != nil {
		t.Fatal(err)
	}
}

func msgIn(kind, key string) MessageInput {
	return MessageInput{Community: "demo", MemberID: "m1", WorkflowID: WorkflowID("demo", "m1"), Kind: kind, Key: key}
}

func TestFirstVersionMessagesKeepTheirKeys(t *testing.T) {
	comms := &fakeComms{}
	a := &Activities{Members: &fakeMembers{}, Communications: comms}
	if _, err := runActivity(t, a, a.SendWelcome, msgIn("", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := runActivity(t, a, a.SendProfileReminder, msgIn("", "")); err != nil {
		t.Fatal(err)
	}
	if got := comms.keys(); !slices.Equal(got, []string{"onboarding/demo/m1/welcome", "onboarding/demo/m1/profile-reminder"}) {
		t.Errorf("keys %v", got)
	}
}

func TestJourneyMessagesAddressTheMemberOncePerKey(t *testing.T) {
	tests := []struct {
		kind, key, template string
	}{
		{MessageWelcome, "welcome", TemplateWelcome},
		{MessageProfileReminder, "profile-reminder-2", TemplateProfileReminder},
		{MessageAttendanceNudge, "attendance-nudge-1", TemplateAttendanceNudge},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			comms := &fakeComms{}
			a := &Activities{Members: &fakeMembers{}, Communications: comms}
			if _, err := runActivity(t, a, a.SendJourneyMessage, msgIn(tt.kind, tt.key)); err != nil {
				t.Fatal(err)
			}
			got := comms.sent[0]
			if got.GetIdempotencyKey() != "onboarding/demo/m1/"+tt.key || got.GetToEmail() != "ada@example.org" || got.GetMemberId() != "m1" ||
				got.GetTemplate() != tt.template || got.GetSubject() != "" || got.GetTextBody() != "" {
				t.Errorf("sent %v", got)
			}
		})
	}
	a := &Activities{Members: &fakeMembers{}, Communications: &fakeComms{}}
	if _, err := runActivity(t, a, a.SendJourneyMessage, msgIn("poem", "x")); !isNonRetryable(err, ErrTypeInvalidRequest) {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := runActivity(t, a, a.SendJourneyMessage, msgIn(MessageWelcome, "")); !isNonRetryable(err, ErrTypeInvalidRequest) {
		t.Errorf("no key: %v", err)
	}
}

func TestJourneyTemplatesAreMadeOnceAndNeverOverwritten(t *testing.T) {
	tpl := &fakeTemplates{have: map[string]bool{TemplateProfileReminder: true}}
	comms := &fakeComms{}
	a := &Activities{Members: &fakeMembers{}, Communications: comms, Templates: templates.NewEnsurer(tpl, time.Hour)}
	for _, in := range []MessageInput{
		{Community: "demo", MemberID: "m1", WorkflowID: "j1", Key: "hello", Template: TemplateWelcome},
		{Community: "demo", MemberID: "m2", WorkflowID: "j2", Key: "hello", Template: TemplateWelcome},
		{Community: "demo", MemberID: "m1", WorkflowID: "j1", Key: "nudge", Template: TemplateProfileReminder},
		{Community: "demo", MemberID: "m1", WorkflowID: "j1", Key: "custom", Template: "our-own-letter"},
	} {
		if _, err := runActivity(t, a, a.SendTemplate, in); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(tpl.saved, []string{TemplateWelcome}) {
		t.Errorf("created %v, want only the missing default, once", tpl.saved)
	}
	if !slices.Equal(tpl.asked, []string{TemplateWelcome, TemplateProfileReminder}) {
		t.Errorf("looked up %v: an organiser's own template is never looked up, a default once", tpl.asked)
	}
	if len(comms.sent) != 4 {
		t.Errorf("sent %d messages", len(comms.sent))
	}
}

// TestDefaultTemplatesAreValidTemplates saves every default text through
// the communications service's own rules, so a default that would not
// parse or render fails here rather than in a journey.
func TestDefaultTemplatesAreValidTemplates(t *testing.T) {
	for _, d := range DefaultTemplates() {
		t.Run(d.Name, func(t *testing.T) {
			if _, err := commsdomain.NewTemplate("demo", d.Name, []commsdomain.Variant{{Subject: d.Subject, Text: d.TextBody}}, time.Now()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func isNonRetryable(err error, typ string) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.NonRetryable() && appErr.Type() == typ
}

func TestActivityErrorsSayWhetherToRetry(t *testing.T) {
	left := &fakeMembers{members: map[string]*membersv1.Member{"m1": {Id: "m1", Status: membersv1.MemberStatus_MEMBER_STATUS_LEFT}}}
	tests := []struct {
		name     string
		members  *fakeMembers
		comms    *fakeComms
		wantType string // empty: retryable
	}{
		{"member not found", &fakeMembers{err: connect.NewError(connect.CodeNotFound, errors.New("member not found"))}, &fakeComms{}, ErrTypeMemberNotFound},
		{"member left", left, &fakeComms{}, ErrTypeMemberNotFound},
		{"mail refused", &fakeMembers{}, &fakeComms{status: communicationsv1.MessageStatus_MESSAGE_STATUS_FAILED}, ErrTypeMessageRefused},
		{"bad request", &fakeMembers{}, &fakeComms{err: connect.NewError(connect.CodeInvalidArgument, errors.New("subject: too long"))}, ErrTypeInvalidRequest},
		{"mail server down", &fakeMembers{}, &fakeComms{err: connect.NewError(connect.CodeUnavailable, errors.New("retry"))}, ""},
		{"members service down", &fakeMembers{err: connect.NewError(connect.CodeUnavailable, errors.New("dial"))}, &fakeComms{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Activities{Members: tt.members, Communications: tt.comms}
			_, err := runActivity(t, a, a.SendJourneyMessage, msgIn(MessageWelcome, "welcome"))
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) {
				t.Fatalf("error %v is not an application error", err)
			}
			if appErr.NonRetryable() != (tt.wantType != "") || (tt.wantType != "" && appErr.Type() != tt.wantType) {
				t.Errorf("error %v: non-retryable %v type %q, want type %q", err, appErr.NonRetryable(), appErr.Type(), tt.wantType)
			}
		})
	}
}

func TestSuggestEventsMatchesTheMemberAndMailsWhatItFinds(t *testing.T) {
	start := time.Date(2026, 5, 1, 16, 0, 0, 0, time.UTC)
	events := &fakeEvents{events: []*eventsv1.Event{{Id: "e1", Spec: &eventsv1.EventSpec{Title: "Solar workshop", Kind: eventsv1.EventKind_EVENT_KIND_OFFLINE,
		Venue: &eventsv1.Venue{City: "Berlin"}}, Occurrences: []*eventsv1.Occurrence{{StartTime: timestamppb.New(start)}}}}}
	comms := &fakeComms{}
	a := &Activities{Members: &fakeMembers{}, Communications: comms, Events: events}
	v, err := runActivity(t, a, a.SuggestEvents, SuggestInput{MessageInput: msgIn("event-suggestion", "event-suggestion"), Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	var res SuggestResult
	v.into(t, &res)
	if !slices.Equal(res.EventIDs, []string{"e1"}) {
		t.Errorf("suggested %v", res.EventIDs)
	}
	asked := events.asked
	if !slices.Equal(asked.GetInterests(), []string{"solar"}) || asked.GetTimeZone() != "Europe/Berlin" || asked.GetLocation().GetCity() != "Berlin" || asked.GetLimit() != 3 {
		t.Errorf("asked %v", asked)
	}
	events_ := comms.sent[0].GetVariables()["events"]
	if comms.sent[0].GetIdempotencyKey() != "onboarding/demo/m1/event-suggestion" || comms.sent[0].GetTemplate() != TemplateEventSuggestion ||
		!strings.Contains(events_, "Solar workshop, Fri 1 May 2026, 18:00 CEST (Berlin)") {
		t.Errorf("sent %v", comms.sent[0])
	}

	none := &fakeComms{}
	a = &Activities{Members: &fakeMembers{}, Communications: none, Events: &fakeEvents{}}
	v, err = runActivity(t, a, a.SuggestEvents, SuggestInput{MessageInput: msgIn("event-suggestion", "event-suggestion")})
	if err != nil {
		t.Fatal(err)
	}
	v.into(t, &res)
	if len(res.EventIDs) != 0 || len(none.sent) != 0 {
		t.Errorf("nothing to suggest, yet %v and %d messages", res.EventIDs, len(none.sent))
	}
}

func TestAssignBuddyPrefersCloseAmbassadorsWithRoom(t *testing.T) {
	book := &fakeBook{capacity: 1, book: map[string][]string{"near": {"someone"}}}
	segments := &fakeSegments{byFilter: func(f *membersv1.SegmentFilter) []string {
		switch {
		case len(f.GetCities()) > 0:
			return []string{"m1", "near"} // the member themselves may be an ambassador
		case len(f.GetInterests()) > 0:
			return []string{"likeminded", "near"}
		}
		return nil
	}}
	comms := &fakeComms{}
	a := &Activities{Members: &fakeMembers{}, Communications: comms, Segments: segments, Buddies: book}
	v, err := runActivity(t, a, a.AssignBuddy, BuddyInput{MessageInput: msgIn("buddy", "buddy")})
	if err != nil {
		t.Fatal(err)
	}
	var res BuddyResult
	v.into(t, &res)
	if res.AmbassadorID != "likeminded" {
		t.Errorf("buddy %q, want the first ambassador with room", res.AmbassadorID)
	}
	f := segments.filters
	if len(f) != 3 || !slices.Equal(f[0].GetCities(), []string{"Berlin"}) || !slices.Equal(f[1].GetCountryCodes(), []string{"DE"}) ||
		!slices.Equal(f[2].GetInterests(), []string{"solar"}) || !slices.Equal(f[0].GetRoles(), []string{"ambassador"}) || !slices.Equal(f[0].GetStatuses(), []string{"active"}) {
		t.Errorf("filters %v", f)
	}
	if got := comms.keys(); !slices.Equal(got, []string{"onboarding/demo/m1/buddy-member", "onboarding/demo/m1/buddy-ambassador"}) {
		t.Errorf("introductions %v", got)
	}
	// A retry finds the same ambassador and introduces nobody new.
	v, err = runActivity(t, a, a.AssignBuddy, BuddyInput{MessageInput: msgIn("buddy", "buddy")})
	if err != nil {
		t.Fatal(err)
	}
	v.into(t, &res)
	if res.AmbassadorID != "likeminded" {
		t.Errorf("retry chose %q", res.AmbassadorID)
	}

	// Nobody with room: no buddy, no message.
	full := &fakeComms{}
	a = &Activities{Members: &fakeMembers{}, Communications: full, Segments: segments, Buddies: &fakeBook{capacity: 0}}
	v, err = runActivity(t, a, a.AssignBuddy, BuddyInput{MessageInput: msgIn("buddy", "buddy")})
	if err != nil {
		t.Fatal(err)
	}
	v.into(t, &res)
	if res.AmbassadorID != "" || len(full.sent) != 0 {
		t.Errorf("full book gave %q and %d messages", res.AmbassadorID, len(full.sent))
	}
}

func TestReleaseAndRecordOnboarded(t *testing.T) {
	book := &fakeBook{}
	eng := &fakeEngagement{}
	a := &Activities{Buddies: book, Engagement: eng}
	if _, err := runActivity(t, a, a.ReleaseBuddy, BuddyInput{MessageInput: msgIn("", ""), AmbassadorID: "amb1"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(book.released, []string{"amb1/m1"}) {
		t.Errorf("released %v", book.released)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := runActivity(t, a, a.RecordOnboarded, OnboardedInput{Community: "demo", MemberID: "m1", WorkflowID: WorkflowID("demo", "m1"), At: at}); err != nil {
		t.Fatal(err)
	}
	r := eng.recorded[0]
	if r.GetType() != "onboarded" || r.GetSourceEventId() != "onboarding/demo/m1/onboarded" || !r.GetOccurredAt().AsTime().Equal(at) || r.GetMemberId() != "m1" {
		t.Errorf("recorded %v", r)
	}
	eng.err = connect.NewError(connect.CodeInvalidArgument, errors.New("type: is not an activity type of the community"))
	if _, err := runActivity(t, a, a.RecordOnboarded, OnboardedInput{Community: "demo", MemberID: "m1", WorkflowID: "w", At: at}); !isNonRetryable(err, ErrTypeInvalidRequest) {
		t.Errorf("refused activity: %v", err)
	}
}
