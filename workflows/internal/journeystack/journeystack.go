// Package journeystack runs, for the journeys' integration tests, the
// whole platform in-process as `kinship dev` does — embedded Temporal on
// SQLite, the Kafka-protocol broker, the SMTP sink, the members, events,
// communications and partners services on SQLite, and the worker with its
// trigger and journeys API — and gives typed clients to drive it.
package journeystack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"connectrpc.com/connect"
	kafkago "github.com/segmentio/kafka-go"
	"go.temporal.io/sdk/client"

	communicationsv1connect "github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	eventsv1connect "github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/devstack"
	"github.com/kinshiphq/kinship/internal/devstack/devstacktest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/smtpsink"
	"github.com/kinshiphq/kinship/internal/telemetry"
)

// Stack is a running platform and clients calling it as the demo
// community's organiser.
type Stack struct {
	EP       devstack.Endpoints
	Temporal client.Client

	Journeys       journeysv1connect.JourneysServiceClient
	Members        membersv1connect.MembersServiceClient
	Engagement     membersv1connect.EngagementServiceClient
	Segments       membersv1connect.SegmentsServiceClient
	Events         eventsv1connect.EventsServiceClient
	Attendance     eventsv1connect.AttendanceServiceClient
	Communications communicationsv1connect.CommunicationsServiceClient
	// OrganiserID is the seeded organiser's member id.
	OrganiserID string
}

// Start runs the platform for the test; reminderAfter tunes the default
// onboarding journey's first profile reminder.
func Start(t *testing.T, reminderAfter time.Duration) *Stack {
	t.Helper()
	tel, err := telemetry.New(context.Background(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	level := slog.LevelError
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	logger := slog.New(telemetry.NewLogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	s := &Stack{}
	s.EP, s.Temporal = devstacktest.Start(t, devstack.Config{Communities: []string{"demo"}, OnboardingReminderAfter: reminderAfter},
		devstack.Deps{Logger: logger, Telemetry: tel}, "demo")
	org := authtest.Bearer(s.EP.Tokens[auth.Organiser])
	s.Journeys = journeysv1connect.NewJourneysServiceClient(http.DefaultClient, s.EP.Worker, org)
	s.Members = membersv1connect.NewMembersServiceClient(http.DefaultClient, s.EP.Members, org)
	s.Engagement = membersv1connect.NewEngagementServiceClient(http.DefaultClient, s.EP.Members, org)
	s.Segments = membersv1connect.NewSegmentsServiceClient(http.DefaultClient, s.EP.Members, org)
	s.Events = eventsv1connect.NewEventsServiceClient(http.DefaultClient, s.EP.Events, org)
	s.Attendance = eventsv1connect.NewAttendanceServiceClient(http.DefaultClient, s.EP.Events, org)
	s.Communications = communicationsv1connect.NewCommunicationsServiceClient(http.DefaultClient, s.EP.Communications, org)
	s.OrganiserID = s.memberByEmail(t, "organiser@demo.kinship.localhost")
	return s
}

func (s *Stack) memberByEmail(t *testing.T, email string) string {
	t.Helper()
	res, err := s.Members.ListMembers(context.Background(), connect.NewRequest(&membersv1.ListMembersRequest{Community: "demo", PageSize: 500}))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Msg.GetMembers() {
		if m.GetEmail() == email {
			return m.GetId()
		}
	}
	t.Fatalf("no member %s", email)
	return ""
}

// Join adds a member as the organiser does, and returns their id.
func (s *Stack) Join(t *testing.T, req *membersv1.JoinCommunityRequest) string {
	t.Helper()
	req.Community = "demo"
	res, err := s.Members.JoinCommunity(context.Background(), connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.GetMember().GetId()
}

// Mail returns the messages the sink received for to.
func (s *Stack) Mail(t *testing.T, to string) []smtpsink.Message {
	t.Helper()
	res, err := http.Get(s.EP.Mail + "/api/messages?to=" + to)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var msgs []smtpsink.Message
	if err := json.NewDecoder(res.Body).Decode(&msgs); err != nil {
		t.Fatal(err)
	}
	return msgs
}

// Subjects lists the subjects of the mail to to.
func (s *Stack) Subjects(t *testing.T, to string) []string {
	t.Helper()
	var out []string
	for _, m := range s.Mail(t, to) {
		out = append(out, m.Subject)
	}
	return out
}

// EventsOn reads topic from the start and returns the events of type typ
// keyed by key.
func (s *Stack) EventsOn(t *testing.T, topic, typ, key string) []kafka.Event {
	t.Helper()
	conn, err := kafkago.Dial("tcp", s.EP.Kafka[0])
	if err != nil {
		t.Fatal(err)
	}
	partitions, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Event
	for _, p := range partitions {
		leader, err := kafkago.DialLeader(context.Background(), "tcp", s.EP.Kafka[0], topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		last, err := leader.ReadLastOffset()
		leader.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: s.EP.Kafka, Topic: topic, Partition: p.ID, MaxWait: 50 * time.Millisecond})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			msg, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				t.Fatalf("read %s/%d: %v", topic, p.ID, err)
			}
			if e, err := kafka.ParseEvent(msg); err == nil && e.Type == typ && e.Key == key {
				out = append(out, e)
			}
			if msg.Offset >= last-1 {
				break
			}
		}
		r.Close()
	}
	return out
}

// Eventually polls check until it returns "" or timeout passes.
func Eventually(t *testing.T, timeout time.Duration, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		if last = check(); last == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %s", what, fmt.Sprint(last))
}
