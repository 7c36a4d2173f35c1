package events_test

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	_ "modernc.org/sqlite"

	ics "github.com/arran4/golang-ical"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/kafka/kafkatest"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/services/events"
	published "github.com/kinshiphq/kinship/services/events/events"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// testClock is the service's clock; tests move it on.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

type service struct {
	url     string
	dbPath  string
	brokers []string
	issuer  *authtest.Issuer
	clock   *testClock
	apiKey  string
	// members and partners are what the fake members and partners
	// services know, per community.
	members, partners *directory
	// The organiser's clients.
	events     eventsv1connect.EventsServiceClient
	attendance eventsv1connect.AttendanceServiceClient
	calendar   eventsv1connect.CalendarServiceClient
}

func start(t testing.TB) *service { return startWith(t, nil) }

// startWith runs the service with configure's changes to its config and
// dependencies.
func startWith(t testing.TB, configure func(*events.Config, *events.Deps)) *service {
	t.Helper()
	brokers := kafkatest.Start(t)
	var topics []kafka.Topic
	for _, name := range []string{published.Topic("demo"), memberevents.Topic("demo")} {
		topics = append(topics, kafka.Topic{Name: name, Partitions: 1, ReplicationFactor: 1},
			kafka.Topic{Name: kafka.DeadLetterTopic(name), Partitions: 1, ReplicationFactor: 1})
	}
	if err := kafka.EnsureTopics(context.Background(), brokers, kafka.Security{}, topics...); err != nil {
		t.Fatal(err)
	}
	key, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	dirs := struct{ members, partners *directory }{newDirectory(), newDirectory()}
	// The guard table's member, whom the team may answer for.
	dirs.members.add("demo", membersv1.MemberStatus_MEMBER_STATUS_ACTIVE, "m-guard")
	mux := http.NewServeMux()
	mux.Handle(membersv1connect.NewAccessServiceHandler(fakeAccess{key: key.Plain}))
	mux.Handle(membersv1connect.NewMembersServiceHandler(fakeMembers{dir: dirs.members}))
	mux.Handle(partnersv1connect.NewPartnersServiceHandler(fakePartners{dir: dirs.partners}))
	members := httptest.NewServer(mux)
	t.Cleanup(members.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &service{url: "http://" + ln.Addr().String(), dbPath: filepath.Join(t.TempDir(), "events.db"), brokers: brokers,
		issuer: authtest.Start(t), clock: &testClock{}, apiKey: key.Plain, members: dirs.members, partners: dirs.partners}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := events.Config{HTTPAddr: ln.Addr().String(), DatabaseURL: s.dbPath, KafkaBrokers: brokers,
		Communities: []string{"demo", "other"}, Auth: s.issuer.Config(), MembersURL: members.URL, PartnersURL: members.URL, PublicURL: "https://events.example.org",
		SweepEvery: time.Hour}
	deps := events.Deps{Logger: slog.New(slog.DiscardHandler), Tracer: noop.NewTracerProvider(), Listener: ln,
		Credentials: s.issuer.WorkloadTokens(), Clock: s.clock.Now}
	if configure != nil {
		configure(&cfg, &deps)
	}
	go func() { done <- events.Run(ctx, cfg, deps) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("events.Run: %v", err)
		}
	})
	readyCtx, readyCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer readyCancel()
	if err := serve.WaitReady(readyCtx, s.url); err != nil {
		t.Fatal(err)
	}
	organiser := authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser))
	s.events = eventsv1connect.NewEventsServiceClient(http.DefaultClient, s.url, organiser)
	s.attendance = eventsv1connect.NewAttendanceServiceClient(http.DefaultClient, s.url, organiser)
	s.calendar = eventsv1connect.NewCalendarServiceClient(http.DefaultClient, s.url, organiser)
	return s
}

// as returns clients acting as member memberID of demo.
func (s *service) as(t testing.TB, memberID string, role auth.Role) (eventsv1connect.EventsServiceClient, eventsv1connect.AttendanceServiceClient, eventsv1connect.CalendarServiceClient) {
	t.Helper()
	return s.in(t, "demo", memberID, role)
}

// in returns clients acting as member memberID of community.
func (s *service) in(t testing.TB, community, memberID string, role auth.Role) (eventsv1connect.EventsServiceClient, eventsv1connect.AttendanceServiceClient, eventsv1connect.CalendarServiceClient) {
	t.Helper()
	tok := authtest.Bearer(s.issuer.Token(t, localissuer.Claims{Subject: "u-" + memberID, Community: community, Roles: []string{string(role)}, MemberID: memberID}))
	return eventsv1connect.NewEventsServiceClient(http.DefaultClient, s.url, tok),
		eventsv1connect.NewAttendanceServiceClient(http.DefaultClient, s.url, tok),
		eventsv1connect.NewCalendarServiceClient(http.DefaultClient, s.url, tok)
}

func (s *service) count(t testing.TB, query string) int {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+s.dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// spec is a valid hybrid event a week from the service's now.
func (s *service) spec() *eventsv1.EventSpec {
	at := s.clock.Now().UTC().Truncate(time.Hour).Add(7 * 24 * time.Hour)
	return &eventsv1.EventSpec{
		Title: "Repair café", Description: "Bring what is broken.", Kind: eventsv1.EventKind_EVENT_KIND_HYBRID,
		Venue:     &eventsv1.Venue{Name: "Hall", Street: "Main St 1", City: "Berlin", CountryCode: "DE"},
		OnlineUrl: "https://meet.example.org/repair", StartTime: timestamppb.New(at), EndTime: timestamppb.New(at.Add(2 * time.Hour)),
		TimeZone: "Europe/Berlin", Capacity: 2, Tags: []string{"repair", "climate"}, Visibility: eventsv1.Visibility_VISIBILITY_PUBLIC,
	}
}

// publish creates and publishes an event.
func (s *service) publish(t testing.TB, spec *eventsv1.EventSpec) *eventsv1.Event {
	t.Helper()
	ctx := context.Background()
	created, err := s.events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: "demo", Event: spec}))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := s.events.PublishEvent(ctx, connect.NewRequest(&eventsv1.PublishEventRequest{Community: "demo", Id: created.Msg.GetEvent().GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	return pub.Msg.GetEvent()
}

func rsvp(t testing.TB, c eventsv1connect.AttendanceServiceClient, e *eventsv1.Event, occurrence int) (*eventsv1.RSVP, error) {
	t.Helper()
	res, err := c.RSVP(context.Background(), connect.NewRequest(&eventsv1.RSVPRequest{EventId: e.GetId(),
		OccurrenceId: e.GetOccurrences()[occurrence].GetId(), Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetRsvps()[0], nil
}

// topicEvents reads the events topic: the CloudEvents types in order, with
// their keys.
func topicEvents(t testing.TB, brokers []string, topic string) []kafka.Event {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	var out []kafka.Event
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		m, err := r.ReadMessage(ctx)
		cancel()
		if err != nil {
			return out
		}
		if e, err := kafka.ParseEvent(m); err == nil {
			out = append(out, e)
		}
	}
}

func waitForTypes(t testing.TB, brokers []string, want ...string) []kafka.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got []kafka.Event
	for time.Now().Before(deadline) {
		got = topicEvents(t, brokers, published.Topic("demo"))
		if len(got) >= len(want) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var types []string
	for _, e := range got {
		types = append(types, e.Type)
	}
	if !slices.Equal(types, want) {
		t.Errorf("published %v, want %v", types, want)
	}
	return got
}

func TestScheduleRSVPAndCancelOverHTTP(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	created, err := s.events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Event: s.spec()}))
	if err != nil {
		t.Fatal(err)
	}
	e := created.Msg.GetEvent()
	if e.GetStatus() != eventsv1.EventStatus_EVENT_STATUS_DRAFT || len(e.GetOccurrences()) != 1 || e.GetCommunity() != "demo" {
		t.Fatalf("created = %v", e)
	}
	adaEvents, ada, _ := s.as(t, "ada", auth.Member)
	if _, err := adaEvents.GetEvent(ctx, connect.NewRequest(&eventsv1.GetEventRequest{Id: e.GetId()})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("a member reading a draft = %v, want NotFound", err)
	}
	if _, err := rsvp(t, ada, e, 0); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("RSVP to a draft = %v, want FailedPrecondition", err)
	}
	if _, err := s.events.PublishEvent(ctx, connect.NewRequest(&eventsv1.PublishEventRequest{Id: e.GetId()})); err != nil {
		t.Fatal(err)
	}

	seat, err := rsvp(t, ada, e, 0)
	if err != nil {
		t.Fatal(err)
	}
	if seat.GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_GOING || len(seat.GetCheckInCode()) != 8 || !strings.HasPrefix(seat.GetQrPayload(), "kinship:checkin:demo:") {
		t.Errorf("ada's RSVP = %v", seat)
	}
	_, bob, _ := s.as(t, "bob", auth.Member)
	cleoEvents, cleo, _ := s.as(t, "cleo", auth.Member)
	if _, err := rsvp(t, bob, e, 0); err != nil {
		t.Fatal(err)
	}
	wait, err := rsvp(t, cleo, e, 0)
	if err != nil || wait.GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_WAITLISTED || wait.GetCheckInCode() != "" || wait.GetWaitlistPosition() != 1 {
		t.Fatalf("cleo's RSVP = %v, %v; want waitlisted without a code", wait, err)
	}
	// The online URL is for seats only.
	seen, err := adaEvents.GetEvent(ctx, connect.NewRequest(&eventsv1.GetEventRequest{Id: e.GetId()}))
	if err != nil || seen.Msg.GetEvent().GetSpec().GetOnlineUrl() != "https://meet.example.org/repair" {
		t.Errorf("ada (seated) sees online URL %q, %v", seen.Msg.GetEvent().GetSpec().GetOnlineUrl(), err)
	}
	unseen, err := cleoEvents.GetEvent(ctx, connect.NewRequest(&eventsv1.GetEventRequest{Id: e.GetId()}))
	if err != nil || unseen.Msg.GetEvent().GetSpec().GetOnlineUrl() != "" {
		t.Errorf("cleo (waitlisted) sees online URL %q, %v", unseen.Msg.GetEvent().GetSpec().GetOnlineUrl(), err)
	}
	if occ := unseen.Msg.GetEvent().GetOccurrences()[0]; occ.GetSeatsTaken() != 2 || occ.GetWaitlisted() != 1 {
		t.Errorf("occurrence counts = %v", occ)
	}
	// Members act only for themselves.
	if _, err := bob.RSVP(ctx, connect.NewRequest(&eventsv1.RSVPRequest{EventId: e.GetId(), OccurrenceId: e.GetOccurrences()[0].GetId(),
		MemberId: "ada", Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_NOT_GOING})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("bob answering for ada = %v, want PermissionDenied", err)
	}

	if _, err := s.events.CancelEvent(ctx, connect.NewRequest(&eventsv1.CancelEventRequest{Id: e.GetId(), Reason: "Venue flooded"})); err != nil {
		t.Fatal(err)
	}
	_, dan, _ := s.as(t, "dan", auth.Member)
	if _, err := rsvp(t, dan, e, 0); connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("RSVP to a cancelled event = %v, want FailedPrecondition naming the cancellation", err)
	}
	got := waitForTypes(t, s.brokers, published.TypeEventScheduled,
		published.TypeRSVPReceived, published.TypeSeatTaken, published.TypeRSVPReceived, published.TypeSeatTaken,
		published.TypeRSVPReceived, published.TypeWaitlisted, published.TypeEventCancelled)
	if len(got) == 8 {
		if got[0].Key != e.GetId() || got[1].Key != "ada" || got[6].Key != "cleo" {
			t.Errorf("keys = %q %q %q; want the event id, then member ids", got[0].Key, got[1].Key, got[6].Key)
		}
		var taken eventsv1.SeatTaken
		if err := kafka.Decode(got[2], published.TypeSeatTaken, &taken); err != nil || taken.GetMemberId() != "ada" || taken.GetTakenAt() == nil {
			t.Errorf("SeatTaken = %v, %v", &taken, err)
		}
		var cancelled eventsv1.EventCancelled
		if err := kafka.Decode(got[7], published.TypeEventCancelled, &cancelled); err != nil || cancelled.GetReason() != "Venue flooded" || cancelled.GetSequence() != 1 {
			t.Errorf("EventCancelled = %v, %v", &cancelled, err)
		}
	}
	if n := s.count(t, "SELECT count(*) FROM audit_log WHERE action IN ('event.published', 'event.cancelled')"); n != 2 {
		t.Errorf("audit entries = %d, want publish and cancel", n)
	}
}

func TestBadInputIsRefusedAndLeavesNoTrace(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	e := s.publish(t, s.spec())
	cancelled := s.publish(t, s.spec())
	if _, err := s.events.CancelEvent(ctx, connect.NewRequest(&eventsv1.CancelEventRequest{Id: cancelled.GetId()})); err != nil {
		t.Fatal(err)
	}
	events, outbox, rsvps := s.count(t, "SELECT count(*) FROM events"), s.count(t, "SELECT count(*) FROM outbox"), s.count(t, "SELECT count(*) FROM rsvps")

	tests := []struct {
		name   string
		mutate func(*eventsv1.EventSpec)
		field  string
	}{
		{"end before start", func(p *eventsv1.EventSpec) { p.EndTime = timestamppb.New(p.GetStartTime().AsTime().Add(-time.Hour)) }, "end_time"},
		{"negative capacity", func(p *eventsv1.EventSpec) { p.Capacity = -1 }, "capacity"},
		{"unknown time zone", func(p *eventsv1.EventSpec) { p.TimeZone = "Europe/Atlantis" }, "time_zone"},
		{"invalid RRULE", func(p *eventsv1.EventSpec) { p.Recurrence = &eventsv1.Recurrence{Rrule: "FREQ=FORTNIGHTLY;COUNT=3"} }, "recurrence.rrule"},
		{"endless RRULE", func(p *eventsv1.EventSpec) { p.Recurrence = &eventsv1.Recurrence{Rrule: "FREQ=DAILY"} }, "recurrence.rrule"},
		{"RRULE with a tenth Friday of the month", func(p *eventsv1.EventSpec) {
			p.Recurrence = &eventsv1.Recurrence{Rrule: "FREQ=MONTHLY;BYDAY=10FR;COUNT=2"}
		}, "recurrence.rrule"},
		{"online event without URL", func(p *eventsv1.EventSpec) {
			p.Kind, p.OnlineUrl, p.Venue = eventsv1.EventKind_EVENT_KIND_ONLINE, "", nil
		}, "online_url"},
		{"no kind", func(p *eventsv1.EventSpec) { p.Kind = eventsv1.EventKind_EVENT_KIND_UNSPECIFIED }, "kind"},
		{"in the past", func(p *eventsv1.EventSpec) {
			p.StartTime, p.EndTime = timestamppb.New(time.Now().Add(-48*time.Hour)), timestamppb.New(time.Now().Add(-47*time.Hour))
		}, "start_time"},
		{"10 KB title", func(p *eventsv1.EventSpec) { p.Title = strings.Repeat("x", 10<<10) }, "title"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := s.spec()
			tt.mutate(spec)
			_, err := s.events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Event: spec}))
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("error = %v, want InvalidArgument", err)
			}
			if fields := rpc.FieldViolations(err); !slices.Equal(fields, []string{tt.field}) {
				t.Errorf("field violations = %v, want [%s]", fields, tt.field)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("message %q does not name %s", err.Error(), tt.field)
			}
		})
	}
	t.Run("update with a bad field", func(t *testing.T) {
		_, err := s.events.UpdateEvent(ctx, connect.NewRequest(&eventsv1.UpdateEventRequest{Id: e.GetId(),
			Event: &eventsv1.EventSpec{Capacity: -3}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"capacity"}}}))
		if fields := rpc.FieldViolations(err); !slices.Equal(fields, []string{"capacity"}) {
			t.Errorf("update = %v, want InvalidArgument on capacity", err)
		}
		_, err = s.events.UpdateEvent(ctx, connect.NewRequest(&eventsv1.UpdateEventRequest{Id: e.GetId(), Event: &eventsv1.EventSpec{}}))
		if fields := rpc.FieldViolations(err); !slices.Equal(fields, []string{"update_mask"}) {
			t.Errorf("update without a mask = %v, want InvalidArgument on update_mask", err)
		}
	})
	_, ada, _ := s.as(t, "ada", auth.Member)
	t.Run("RSVP to a cancelled event", func(t *testing.T) {
		if _, err := rsvp(t, ada, cancelled, 0); connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "cancelled") {
			t.Errorf("error = %v, want FailedPrecondition naming the cancellation", err)
		}
	})
	t.Run("RSVP without an answer", func(t *testing.T) {
		_, err := ada.RSVP(ctx, connect.NewRequest(&eventsv1.RSVPRequest{EventId: e.GetId(), OccurrenceId: e.GetOccurrences()[0].GetId()}))
		if fields := rpc.FieldViolations(err); !slices.Equal(fields, []string{"answer"}) {
			t.Errorf("error = %v, want InvalidArgument on answer", err)
		}
	})
	t.Run("RSVP to a past event", func(t *testing.T) {
		s.clock.Advance(8 * 24 * time.Hour)
		defer s.clock.Advance(-8 * 24 * time.Hour)
		if _, err := rsvp(t, ada, e, 0); connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "started or ended") {
			t.Errorf("error = %v, want FailedPrecondition naming the past", err)
		}
	})
	t.Run("malformed JSON", func(t *testing.T) {
		for _, body := range []string{`{"community": "demo", "event": `, `{"event": {"capacity": "many"}}`, `[]`} {
			req, _ := http.NewRequest(http.MethodPost, s.url+eventsv1connect.EventsServiceCreateEventProcedure, bytes.NewBufferString(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+s.issuer.For(t, "demo", auth.Organiser))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "invalid_argument") {
				t.Errorf("POST %s = %d %s, want 400 invalid_argument", body, res.StatusCode, b)
			}
		}
	})

	time.Sleep(200 * time.Millisecond)
	if n := s.count(t, "SELECT count(*) FROM events"); n != events {
		t.Errorf("events stored = %d, want %d", n, events)
	}
	if n := s.count(t, "SELECT count(*) FROM outbox"); n != outbox {
		t.Errorf("outbox events = %d, want %d", n, outbox)
	}
	if n := s.count(t, "SELECT count(*) FROM rsvps"); n != rsvps {
		t.Errorf("RSVPs = %d, want %d", n, rsvps)
	}
}

func TestMemberErasureFromKafkaRemovesPersonalDataOnce(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	past := s.publish(t, s.spec())
	_, ada, adaCal := s.as(t, "ada", auth.Member)
	if _, err := rsvp(t, ada, past, 0); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(7*24*time.Hour - time.Hour)
	seat, err := ada.GetRSVP(ctx, connect.NewRequest(&eventsv1.GetRSVPRequest{OccurrenceId: past.GetOccurrences()[0].GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ada.CheckIn(ctx, connect.NewRequest(&eventsv1.CheckInRequest{Code: seat.Msg.GetRsvp().GetQrPayload()})); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(3 * time.Hour)
	if _, err := ada.GiveFeedback(ctx, connect.NewRequest(&eventsv1.GiveFeedbackRequest{OccurrenceId: past.GetOccurrences()[0].GetId(),
		Rating: 5, Comment: "Ada says: lovely afternoon"})); err != nil {
		t.Fatal(err)
	}
	next := s.publish(t, s.spec())
	if _, err := rsvp(t, ada, next, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := adaCal.GetFeedToken(ctx, connect.NewRequest(&eventsv1.GetFeedTokenRequest{})); err != nil {
		t.Fatal(err)
	}

	data, _ := proto.Marshal(&membersv1.MemberErased{MemberId: "ada", Community: "demo", ErasedAt: timestamppb.Now()})
	erased := kafka.Event{ID: "erase-ada-1", Type: memberevents.TypeMemberErased, Source: memberevents.Source("demo"), Time: time.Now(),
		ContentType: kafka.ContentTypeProtobuf, Data: data, Topic: memberevents.Topic("demo"), Key: "ada"}
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: s.brokers})
	defer w.Close()
	if err := w.WriteMessages(ctx, erased.Message(), erased.Message()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for s.count(t, "SELECT count(*) FROM inbox") == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // let the duplicate arrive too
	if n := s.count(t, "SELECT count(*) FROM feedback WHERE comment <> ''"); n != 0 {
		t.Errorf("comments left after erasure: %d", n)
	}
	if n := s.count(t, "SELECT count(*) FROM feedback"); n != 1 {
		t.Errorf("ratings after erasure = %d, want the rating kept", n)
	}
	if n := s.count(t, "SELECT count(*) FROM feed_tokens"); n != 0 {
		t.Errorf("feed tokens left after erasure: %d", n)
	}
	if n := s.count(t, "SELECT count(*) FROM rsvps WHERE code IS NOT NULL"); n != 0 {
		t.Errorf("check-in codes left after erasure: %d", n)
	}
	if n := s.count(t, "SELECT count(*) FROM rsvps WHERE status = 'cancelled'"); n != 1 {
		t.Errorf("upcoming seats given up = %d, want 1", n)
	}
	if n := s.count(t, "SELECT count(*) FROM outbox WHERE event_type = '"+published.TypeRSVPCancelled+"'"); n != 1 {
		t.Errorf("RSVPCancelled events = %d, want 1 (the duplicate had no effect)", n)
	}
	if n := s.count(t, "SELECT count(*) FROM audit_log WHERE action = 'member.forgotten' AND target_id = 'ada' AND actor_id = 'events/erasures'"); n != 1 {
		t.Errorf("erasure audit entries = %d, want 1 by the consumer", n)
	}
}

func TestCalendarFeedsParseBack(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	spec := s.spec()
	spec.Recurrence = &eventsv1.Recurrence{Rrule: "FREQ=WEEKLY;COUNT=4",
		Exdates: []*timestamppb.Timestamp{timestamppb.New(spec.GetStartTime().AsTime().Add(3 * 7 * 24 * time.Hour))}}
	e := s.publish(t, spec)
	if len(e.GetOccurrences()) != 3 {
		t.Fatalf("occurrences = %d, want 4 less 1 excluded", len(e.GetOccurrences()))
	}
	members := s.publish(t, func() *eventsv1.EventSpec {
		p := s.spec()
		p.Title, p.Visibility = "Members only", eventsv1.Visibility_VISIBILITY_MEMBERS
		return p
	}())
	_, ada, adaCal := s.as(t, "ada", auth.Member)
	if _, err := rsvp(t, ada, e, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := rsvp(t, ada, members, 0); err != nil {
		t.Fatal(err)
	}
	// The second sitting moves an hour later; the first is cancelled; the
	// whole series gets a new title.
	second := e.GetOccurrences()[1]
	moved := second.GetStartTime().AsTime().Add(time.Hour)
	if _, err := s.events.UpdateEvent(ctx, connect.NewRequest(&eventsv1.UpdateEventRequest{Id: e.GetId(), Scope: eventsv1.UpdateScope_UPDATE_SCOPE_OCCURRENCE,
		OccurrenceId: second.GetId(), Event: &eventsv1.EventSpec{StartTime: timestamppb.New(moved), EndTime: timestamppb.New(moved.Add(2 * time.Hour))},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"start_time", "end_time"}}})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.events.CancelEvent(ctx, connect.NewRequest(&eventsv1.CancelEventRequest{Id: e.GetId(), OccurrenceId: e.GetOccurrences()[0].GetId()})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.events.UpdateEvent(ctx, connect.NewRequest(&eventsv1.UpdateEventRequest{Id: e.GetId(), Event: &eventsv1.EventSpec{Title: "Repair café, weekly"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})); err != nil {
		t.Fatal(err)
	}

	public := getICS(t, s.url+"/calendar/demo.ics", http.StatusOK)
	var master *ics.VEvent
	overrides := map[string]*ics.VEvent{}
	for _, ev := range public.Events() {
		if strings.Contains(prop(ev, ics.ComponentPropertySummary), "Members only") {
			t.Error("a members-only event is in the public feed")
		}
		if strings.Contains(public.Serialize(), "meet.example.org") {
			t.Error("the public feed shows an online URL")
		}
		if ev.GetProperty(ics.ComponentPropertyRecurrenceId) != nil {
			overrides[prop(ev, ics.ComponentPropertyRecurrenceId)] = ev
		} else {
			master = ev
		}
	}
	if master == nil || prop(master, ics.ComponentPropertyUniqueId) != e.GetId()+"@demo.events.kinship" {
		t.Fatalf("no master VEVENT with a stable UID in:\n%s", public.Serialize())
	}
	if prop(master, ics.ComponentPropertySequence) != "1" || prop(master, ics.ComponentPropertySummary) != "Repair café, weekly" {
		t.Errorf("master SEQUENCE %q summary %q; want 1 after one change of the series", prop(master, ics.ComponentPropertySequence), prop(master, ics.ComponentPropertySummary))
	}
	if prop(master, ics.ComponentPropertyRrule) != "FREQ=WEEKLY;COUNT=4" || master.GetProperty(ics.ComponentPropertyExdate) == nil {
		t.Errorf("master recurrence: RRULE %q, EXDATE %v", prop(master, ics.ComponentPropertyRrule), master.GetProperty(ics.ComponentPropertyExdate))
	}
	start, err := master.GetStartAt()
	if err != nil || !start.Equal(e.GetSpec().GetStartTime().AsTime()) || start.Location().String() != "Europe/Berlin" {
		t.Errorf("master DTSTART = %v, %v", start, err)
	}
	if len(public.Timezones()) != 1 {
		t.Errorf("VTIMEZONEs = %d, want Europe/Berlin", len(public.Timezones()))
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	key := func(o *eventsv1.Occurrence) string {
		return o.GetRecurrenceId().AsTime().In(berlin).Format("20060102T150405")
	}
	if ov := overrides[key(e.GetOccurrences()[0])]; ov == nil || prop(ov, ics.ComponentPropertyStatus) != "CANCELLED" {
		t.Errorf("cancelled sitting = %v, want an override with STATUS:CANCELLED", ov)
	}
	if ov := overrides[key(second)]; ov == nil {
		t.Error("the moved sitting has no override")
	} else if got, err := ov.GetStartAt(); err != nil || !got.Equal(moved) {
		t.Errorf("moved sitting starts %v, %v; want %v", got, err, moved)
	}

	token, err := adaCal.GetFeedToken(ctx, connect.NewRequest(&eventsv1.GetFeedTokenRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if token.Msg.GetUrl() != "https://events.example.org"+token.Msg.GetPath() {
		t.Errorf("feed URL = %q for path %q", token.Msg.GetUrl(), token.Msg.GetPath())
	}
	mine := getICS(t, s.url+token.Msg.GetPath(), http.StatusOK)
	if len(mine.Events()) != 2 {
		t.Fatalf("member feed events = %d, want the moved sitting and the members-only event", len(mine.Events()))
	}
	for _, ev := range mine.Events() {
		if prop(ev, ics.ComponentPropertyUrl) != "https://meet.example.org/repair" {
			t.Errorf("member feed event %q lacks the online URL of her seat", prop(ev, ics.ComponentPropertySummary))
		}
	}
	rotated, err := adaCal.RotateFeedToken(ctx, connect.NewRequest(&eventsv1.RotateFeedTokenRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	getICS(t, s.url+token.Msg.GetPath(), http.StatusNotFound)
	getICS(t, s.url+rotated.Msg.GetPath(), http.StatusOK)
	getICS(t, s.url+"/calendar/nowhere.ics", http.StatusNotFound)
	getICS(t, s.url+"/calendar/demo/events/"+members.GetId()+".ics", http.StatusNotFound)
	single := getICS(t, s.url+"/calendar/demo/events/"+e.GetId()+".ics", http.StatusOK)
	if len(single.Events()) != 3 {
		t.Errorf("single-event download = %d components, want the master and 2 overrides", len(single.Events()))
	}
	exported, err := adaEventsExport(t, s, "ada", members.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(exported, "URL;VALUE=URI:https://meet.example.org/repair") {
		t.Errorf("add-to-calendar for a seated member lacks the URL:\n%s", exported)
	}
	if other, _ := adaEventsExport(t, s, "bob", members.GetId()); strings.Contains(other, "meet.example.org") {
		t.Error("add-to-calendar shows the URL to a member without a seat")
	}
}

func adaEventsExport(t *testing.T, s *service, member, eventID string) (string, error) {
	t.Helper()
	_, _, cal := s.as(t, member, auth.Member)
	res, err := cal.ExportEventICS(context.Background(), connect.NewRequest(&eventsv1.ExportEventICSRequest{Id: eventID}))
	if err != nil {
		return "", err
	}
	if _, err := ics.ParseCalendar(bytes.NewReader(res.Msg.GetIcs())); err != nil {
		t.Errorf("exported ICS does not parse: %v", err)
	}
	return string(res.Msg.GetIcs()), nil
}

func getICS(t *testing.T, url string, status int) *ics.Calendar {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		t.Fatalf("GET %s = %d, want %d", url, res.StatusCode, status)
	}
	if status != http.StatusOK {
		return nil
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/calendar; charset=utf-8" {
		t.Errorf("content type = %q", ct)
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	again, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", again.StatusCode)
	}
	return cal
}

func prop(e *ics.VEvent, p ics.ComponentProperty) string {
	if v := e.GetProperty(p); v != nil {
		return v.Value
	}
	return ""
}
