package eventlifecycle

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
)

// fakeEvents serves one event with one occurrence.
type fakeEvents struct {
	eventsv1connect.EventsServiceClient
	event *eventsv1.Event
}

func (f *fakeEvents) GetEvent(_ context.Context, req *connect.Request[eventsv1.GetEventRequest]) (*connect.Response[eventsv1.GetEventResponse], error) {
	if f.event == nil || req.Msg.GetId() != f.event.GetId() {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("event not found"))
	}
	return connect.NewResponse(&eventsv1.GetEventResponse{Event: f.event}), nil
}

// fakeAttendance pages through rsvps two at a time.
type fakeAttendance struct {
	eventsv1connect.AttendanceServiceClient
	rsvps []*eventsv1.RSVP
	pages int
}

func (f *fakeAttendance) ListAttendees(_ context.Context, req *connect.Request[eventsv1.ListAttendeesRequest]) (*connect.Response[eventsv1.ListAttendeesResponse], error) {
	f.pages++
	start := 0
	if req.Msg.GetPageToken() != "" {
		start = int(req.Msg.GetPageToken()[0] - '0')
	}
	end := min(start+2, len(f.rsvps))
	res := &eventsv1.ListAttendeesResponse{Rsvps: f.rsvps[start:end]}
	if end < len(f.rsvps) {
		res.NextPageToken = string(rune('0' + end))
	}
	return connect.NewResponse(res), nil
}

func (f *fakeAttendance) GetRSVP(_ context.Context, req *connect.Request[eventsv1.GetRSVPRequest]) (*connect.Response[eventsv1.GetRSVPResponse], error) {
	for _, r := range f.rsvps {
		if r.GetMemberId() == req.Msg.GetMemberId() {
			return connect.NewResponse(&eventsv1.GetRSVPResponse{Rsvp: r}), nil
		}
	}
	return nil, connect.NewError(connect.CodeNotFound, errors.New("no rsvp"))
}

type fakeComms struct {
	communicationsv1connect.CommunicationsServiceClient
	sent   []*communicationsv1.SendMessageRequest
	refuse string // a member whose messages are refused
}

func (f *fakeComms) SendMessage(_ context.Context, req *connect.Request[communicationsv1.SendMessageRequest]) (*connect.Response[communicationsv1.SendMessageResponse], error) {
	if req.Msg.GetMemberId() == f.refuse {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("member_id: unknown"))
	}
	f.sent = append(f.sent, req.Msg)
	return connect.NewResponse(&communicationsv1.SendMessageResponse{Message: &communicationsv1.Message{Id: "msg"}}), nil
}

type fakeTemplates struct {
	communicationsv1connect.TemplatesServiceClient
	saved []string
}

func (f *fakeTemplates) GetTemplate(context.Context, *connect.Request[communicationsv1.GetTemplateRequest]) (*connect.Response[communicationsv1.GetTemplateResponse], error) {
	return nil, connect.NewError(connect.CodeNotFound, errors.New("template not found"))
}

func (f *fakeTemplates) SaveTemplate(_ context.Context, req *connect.Request[communicationsv1.SaveTemplateRequest]) (*connect.Response[communicationsv1.SaveTemplateResponse], error) {
	f.saved = append(f.saved, req.Msg.GetName())
	return connect.NewResponse(&communicationsv1.SaveTemplateResponse{}), nil
}

type fixture struct {
	acts       *Activities
	attendance *fakeAttendance
	comms      *fakeComms
	templates  *fakeTemplates
	env        *testsuite.TestActivityEnvironment
	start      time.Time
}

func newFixture(t *testing.T, startsIn time.Duration) *fixture {
	t.Helper()
	start := time.Now().UTC().Add(startsIn).Truncate(time.Second)
	event := &eventsv1.Event{Id: "e1", Community: "demo", Status: eventsv1.EventStatus_EVENT_STATUS_PUBLISHED,
		Spec: &eventsv1.EventSpec{Title: "Repair café", TimeZone: "Europe/Berlin", OnlineUrl: "https://meet.example.org/r",
			Venue: &eventsv1.Venue{Name: "Hall", Street: "Main St 1", City: "Berlin"}},
		Occurrences: []*eventsv1.Occurrence{{Id: "o1", EventId: "e1", StartTime: timestamppb.New(start), EndTime: timestamppb.New(start.Add(time.Hour)),
			Status: eventsv1.OccurrenceStatus_OCCURRENCE_STATUS_SCHEDULED}}}
	rsvp := func(member string, s eventsv1.RSVPStatus) *eventsv1.RSVP {
		return &eventsv1.RSVP{EventId: "e1", OccurrenceId: "o1", MemberId: member, Status: s}
	}
	f := &fixture{
		attendance: &fakeAttendance{rsvps: []*eventsv1.RSVP{
			rsvp("going-1", eventsv1.RSVPStatus_RSVP_STATUS_GOING), rsvp("waiting", eventsv1.RSVPStatus_RSVP_STATUS_WAITLISTED),
			rsvp("offered", eventsv1.RSVPStatus_RSVP_STATUS_OFFERED), rsvp("going-2", eventsv1.RSVPStatus_RSVP_STATUS_GOING),
			rsvp("attended", eventsv1.RSVPStatus_RSVP_STATUS_CHECKED_IN), rsvp("declined", eventsv1.RSVPStatus_RSVP_STATUS_NOT_GOING),
		}},
		comms: &fakeComms{}, templates: &fakeTemplates{}, start: start,
	}
	f.acts = &Activities{Events: &fakeEvents{event: event}, Attendance: f.attendance, Communications: f.comms, Templates: f.templates}
	var suite testsuite.WorkflowTestSuite
	f.env = suite.NewTestActivityEnvironment()
	f.env.RegisterActivity(f.acts)
	return f
}

func (f *fixture) notice(t *testing.T, in NoticeInput) NoticeResult {
	t.Helper()
	v, err := f.env.ExecuteActivity(f.acts.SendEventNotice, in)
	if err != nil {
		t.Fatal(err)
	}
	var r NoticeResult
	if err := v.Get(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) recipients() string {
	var out []string
	for _, m := range f.comms.sent {
		out = append(out, m.GetMemberId())
	}
	return strings.Join(out, ",")
}

func TestNoticesReachTheMembersTheyConcern(t *testing.T) {
	for kind, want := range map[string]string{
		NoticeReminder:  "going-1,going-2",
		NoticeCancelled: "going-1,offered,going-2,attended",
		NoticeFeedback:  "attended",
	} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t, 30*time.Hour)
			r := f.notice(t, NoticeInput{Community: "demo", EventID: "e1", OccurrenceID: "o1", Kind: kind, Before: 24 * time.Hour})
			if got := f.recipients(); got != want || r.Sent != len(f.comms.sent) {
				t.Errorf("sent to %s (%d), want %s", got, r.Sent, want)
			}
			if f.attendance.pages != 3 {
				t.Errorf("pages read = %d, want all 3", f.attendance.pages)
			}
			tpl := defaultTemplate(kind).Name
			if len(f.templates.saved) != 1 || f.templates.saved[0] != tpl {
				t.Errorf("templates created = %v, want %s", f.templates.saved, tpl)
			}
			m := f.comms.sent[0]
			if m.GetTemplate() != tpl || m.GetToEmail() != "" || m.GetSubject() != "" || m.GetVariables()["title"] != "Repair café" ||
				m.GetVariables()["venue"] != "Hall, Main St 1, Berlin" || !strings.Contains(m.GetVariables()["starts_at"], "CE") {
				t.Errorf("message = %v", m)
			}
		})
	}
}

func TestReminderKeysNameTheMemberTheOccurrenceItsStartAndTheReminder(t *testing.T) {
	f := newFixture(t, 30*time.Hour)
	in := NoticeInput{Community: "demo", EventID: "e1", OccurrenceID: "o1", Kind: NoticeReminder, Before: time.Hour}
	f.notice(t, in)
	f.notice(t, in) // a retry sends with the same keys
	keys := map[string]int{}
	for _, m := range f.comms.sent {
		keys[m.GetIdempotencyKey()]++
	}
	want := "event-reminder-1h/o1/" + itoa(f.start.Unix()) + "/going-1"
	if len(keys) != 2 || keys[want] != 2 {
		t.Errorf("keys = %v, want each twice, such as %s", keys, want)
	}
	if v := f.comms.sent[0].GetVariables()["starts_in"]; v != "1 hour" {
		t.Errorf("starts_in = %q", v)
	}
}

func TestNoticesSkipWhatNoLongerApplies(t *testing.T) {
	started := newFixture(t, -time.Minute)
	if r := started.notice(t, NoticeInput{Community: "demo", EventID: "e1", OccurrenceID: "o1", Kind: NoticeReminder, Before: time.Hour}); r.Skipped != SkippedStarted || r.Sent != 0 {
		t.Errorf("reminder after the start = %+v", r)
	}
	if r := started.notice(t, NoticeInput{Community: "demo", EventID: "e1", OccurrenceID: "o1", Kind: NoticeCancelled}); r.Skipped != SkippedStarted {
		t.Errorf("cancellation after the start = %+v", r)
	}
	gone := newFixture(t, time.Hour)
	if r := gone.notice(t, NoticeInput{Community: "demo", EventID: "e1", OccurrenceID: "o-missing", Kind: NoticeFeedback}); r.Skipped != SkippedGone {
		t.Errorf("feedback for an unknown occurrence = %+v", r)
	}
	if len(started.comms.sent)+len(gone.comms.sent) != 0 {
		t.Error("something was sent")
	}
}

func TestANoticeRefusedForOneMemberStillReachesTheOthers(t *testing.T) {
	f := newFixture(t, 30*time.Hour)
	f.comms.refuse = "going-1"
	r := f.notice(t, NoticeInput{Community: "demo", EventID: "e1", OccurrenceID: "o1", Kind: NoticeReminder, Before: time.Hour})
	if r.Sent != 1 || f.recipients() != "going-2" {
		t.Errorf("result %+v, sent to %s", r, f.recipients())
	}
}

func TestSeatOffersAreAnnouncedOnlyWhileOpen(t *testing.T) {
	f := newFixture(t, 30*time.Hour)
	expires := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	f.attendance.rsvps[2].OfferExpiresAt = timestamppb.New(expires)
	offer := func(member string, at time.Time) NoticeResult {
		t.Helper()
		v, err := f.env.ExecuteActivity(f.acts.SendSeatOffer, OfferInput{Community: "demo", EventID: "e1",
			SeatOffer: SeatOffer{OccurrenceID: "o1", MemberID: member, ExpiresAt: at}})
		if err != nil {
			t.Fatal(err)
		}
		var r NoticeResult
		_ = v.Get(&r)
		return r
	}
	if r := offer("offered", expires); r.Sent != 1 {
		t.Errorf("open offer = %+v", r)
	}
	if r := offer("offered", expires.Add(-time.Hour)); r.Sent != 0 || r.Skipped == "" {
		t.Errorf("an earlier offer to the same member = %+v, want skipped", r)
	}
	if r := offer("going-1", expires); r.Sent != 0 || r.Skipped == "" {
		t.Errorf("a member who took the seat = %+v, want skipped", r)
	}
	if len(f.comms.sent) != 1 {
		t.Fatalf("sent %d", len(f.comms.sent))
	}
	m := f.comms.sent[0]
	if m.GetTemplate() != "event-seat-offer" || m.GetIdempotencyKey() != "seat-offer/o1/offered/"+itoa(expires.Unix()) || m.GetVariables()["offer_expires_at"] == "" {
		t.Errorf("offer message = %v", m)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
