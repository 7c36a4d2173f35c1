package events_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

func newStore(t testing.TB) (*store.Store, *db.DB) {
	t.Helper()
	d := dbtest.Open(t, "sqlite", nil, outbox.Migrations(), inbox.Migrations(), store.Migrations())
	return store.New(d, outbox.New(d, propagation.TraceContext{})), d
}

// record is a Kafka record with the CloudEvents headers the consumer reads.
func record(topic, id, typ, contentType, at string, data []byte) kafkago.Message {
	h := []kafkago.Header{{Key: kafka.HeaderSpecVersion, Value: []byte(kafka.SpecVersion)}, {Key: kafka.HeaderID, Value: []byte(id)},
		{Key: kafka.HeaderType, Value: []byte(typ)}, {Key: kafka.HeaderSource, Value: []byte("/communities/demo/x")},
		{Key: kafka.HeaderContentType, Value: []byte(contentType)}}
	if at != "" {
		h = append(h, kafkago.Header{Key: kafka.HeaderTime, Value: []byte(at)})
	}
	return kafkago.Message{Topic: topic, Key: []byte("k"), Value: data, Headers: h}
}

func marshal(f *testing.F, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// handleRecord runs one record as the consumer would: a record that is no
// CloudEvent, or a Permanent error from the handler, is dead-lettered
// with its reason; anything else must be handled. Nothing of a refused
// event may stay in the inbox.
func handleRecord(t *testing.T, d *db.DB, msg kafkago.Message, handle kafka.Handler, group string) {
	e, err := kafka.ParseEvent(msg)
	if err != nil {
		if err.Error() == "" {
			t.Fatal("a record was refused without a reason")
		}
		return // dead-lettered with err as the reason
	}
	err = handle(context.Background(), e)
	if err == nil {
		return
	}
	var perm *kafka.PermanentError
	if !errors.As(err, &perm) || perm.Err == nil || perm.Err.Error() == "" {
		t.Fatalf("event %q (%s) failed with %v: want nil or a permanent error with a reason", e.ID, e.Type, err)
	}
	var n int
	if qerr := d.QueryRow(d.Rebind("SELECT count(*) FROM inbox WHERE consumer = ? AND event_id = ?"), group, e.ID).Scan(&n); qerr != nil || n != 0 {
		t.Fatalf("a refused event left %d inbox rows (%v)", n, qerr)
	}
}

var memberTypes = []string{memberevents.TypeMemberJoined, memberevents.TypeProfileUpdated, memberevents.TypeConsentChanged, memberevents.TypeLevelChanged,
	memberevents.TypeRoleChanged, memberevents.TypeStatusChanged, memberevents.TypeActivityRecorded, memberevents.TypeMemberMerged,
	memberevents.TypeMemberErased, memberevents.TypeEmailConfirmationRequested, memberevents.TypeEmailConfirmed, memberevents.TypeJoinRepeated, "kinship.members.v1.Other"}

// FuzzProjection feeds arbitrary records — payload and headers — to the
// members.v1 consumer of the recipients projection.
func FuzzProjection(f *testing.F) {
	now := timestamppb.Now()
	seeds := []struct {
		typ  int
		data []byte
	}{
		{0, marshal(f, &membersv1.MemberJoined{MemberId: "m1", Community: "demo", Email: "ada@example.org", DisplayName: "Ada", JoinedAt: now, EmailConsent: true})},
		{1, marshal(f, &membersv1.ProfileUpdated{MemberId: "m1", Community: "demo", Profile: &membersv1.Profile{Email: "ada@new.example"}})},
		{2, marshal(f, &membersv1.ConsentChanged{MemberId: "m1", Community: "demo", Purpose: "email.digest", Granted: true})},
		{7, marshal(f, &membersv1.MemberMerged{PrimaryId: "m1", DuplicateId: "m2", Community: "demo"})},
		{8, marshal(f, &membersv1.MemberErased{MemberId: "m1", Community: "demo"})},
		{9, marshal(f, &membersv1.EmailConfirmationRequested{MemberId: "m1", Community: "demo", Email: "ada@example.org", Reason: "join"})},
		{9, marshal(f, &membersv1.EmailConfirmationRequested{MemberId: "m1", Community: "demo", Email: "not an address", Reason: "join"})},
		{10, marshal(f, &membersv1.EmailConfirmed{MemberId: "m1", Community: "demo", Email: "ada@example.org", Reason: "join"})},
		{11, marshal(f, &membersv1.JoinRepeated{MemberId: "m1", Community: "demo"})},
		{0, marshal(f, &membersv1.MemberJoined{MemberId: "", Community: "other"})},
		{0, []byte{0xff, 0xff, 0x01}},
		{12, nil},
	}
	for _, s := range seeds {
		f.Add(uint8(s.typ), "id", kafka.ContentTypeProtobuf, time.Now().Format(time.RFC3339Nano), s.data)
	}
	f.Add(uint8(0), "", kafka.ContentTypeProtobuf, "", seeds[0].data)
	f.Add(uint8(0), "id", "application/json", "yesterday", []byte("{}"))
	s, d := newStore(f)
	p := events.NewProjection(s, inbox.New(d), nil)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, typ uint8, id, contentType, at string, data []byte) {
		if id != "" {
			id = fmt.Sprintf("%s/%d", id, n.Add(1)) // each run its own event
		}
		msg := record(memberevents.Topic("demo"), id, memberTypes[int(typ)%len(memberTypes)], contentType, at, data)
		handleRecord(t, d, msg, p.Handle, events.ProjectionGroup)
	})
}

var eventTypes = []string{events.TypeEventScheduled, events.TypeEventUpdated, events.TypeEventCancelled, "kinship.events.v1.Other"}

// FuzzEventsFeed feeds arbitrary records to the events.v1 consumer of the
// digests' upcoming events.
func FuzzEventsFeed(f *testing.F) {
	start := timestamppb.New(time.Now().Add(time.Hour))
	f.Add(uint8(0), "id", kafka.ContentTypeProtobuf, marshal(f, &eventsv1.EventScheduled{EventId: "e1", Community: "demo", Title: "Repair café",
		Visibility: eventsv1.Visibility_VISIBILITY_PUBLIC, Occurrences: []*eventsv1.OccurrenceTimes{{OccurrenceId: "o1", StartTime: start, EndTime: start}}}))
	f.Add(uint8(1), "id", kafka.ContentTypeProtobuf, marshal(f, &eventsv1.EventUpdated{EventId: "e1", Community: "demo", OccurrenceId: "o1",
		Occurrences: []*eventsv1.OccurrenceTimes{{OccurrenceId: "o1", StartTime: start, EndTime: start}}}))
	f.Add(uint8(2), "id", kafka.ContentTypeProtobuf, marshal(f, &eventsv1.EventCancelled{EventId: "e1", Community: "demo"}))
	f.Add(uint8(0), "id", kafka.ContentTypeProtobuf, marshal(f, &eventsv1.EventScheduled{EventId: "", Community: "Demo!"}))
	f.Add(uint8(0), "", "text/plain", []byte("garbage"))
	s, d := newStore(f)
	feed := events.NewEventsFeed(s, inbox.New(d))
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, typ uint8, id, contentType string, data []byte) {
		if id != "" {
			id = fmt.Sprintf("%s/%d", id, n.Add(1))
		}
		msg := record(events.EventsTopic("demo"), id, eventTypes[int(typ)%len(eventTypes)], contentType, "", data)
		handleRecord(t, d, msg, feed.Handle, events.EventsGroup)
	})
}

// nopAuditor stands in for the audit log when a test seeds a subscription.
type nopAuditor struct{}

func (nopAuditor) Record(context.Context, *sql.Tx, string, string, string, string) error { return nil }

// TestSubscriptionsFeedDeadLettersWhatItCannotRead: a corrupt payload, or
// one about another community, of a type someone subscribed to is refused
// as permanent with a reason (the consumer dead-letters it and goes on);
// types no subscription can ask for are skipped; a good event is queued.
func TestSubscriptionsFeedDeadLettersWhatItCannotRead(t *testing.T) {
	s, d := newStore(t)
	ctx := context.Background()
	sub := domain.Subscription{ID: "sub1", Community: "demo", URL: "https://hooks.example.org/x", EventTypes: []string{"member.joined"},
		Mode: domain.ModeStructured, Secret: "whsec_test", CreatedAt: time.Now()}
	if err := s.CreateSubscription(ctx, sub, "organiser", nopAuditor{}); err != nil {
		t.Fatal(err)
	}
	joined := func(community string) []byte {
		b, err := proto.Marshal(&membersv1.MemberJoined{MemberId: "m1", Community: community, JoinedAt: timestamppb.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name          string
		typ           string
		data          []byte
		wantPermanent bool
		wantQueued    int
	}{
		{"corrupt payload", memberevents.TypeMemberJoined, []byte{0xff, 0xff, 0x01}, true, 0},
		{"another community's event", memberevents.TypeMemberJoined, joined("other"), true, 0},
		{"unknown event type", "kinship.members.v1.Unheard", []byte{0xff}, false, 0},
		{"a good event after them", memberevents.TypeMemberJoined, joined("demo"), false, 1},
	}
	feed := events.NewSubscriptionsFeed(s, nil, nil)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := record(memberevents.Topic("demo"), fmt.Sprintf("ev%d", i), tt.typ, kafka.ContentTypeProtobuf, "", tt.data)
			handleRecord(t, d, msg, feed.Handle, events.SubscriptionsGroup)
			e, err := kafka.ParseEvent(msg)
			if err != nil {
				t.Fatal(err)
			}
			herr := feed.Handle(ctx, e)
			var perm *kafka.PermanentError
			if got := errors.As(herr, &perm); got != tt.wantPermanent {
				t.Fatalf("Handle error = %v, want permanent %v", herr, tt.wantPermanent)
			}
			if !tt.wantPermanent && herr != nil {
				t.Fatalf("Handle error = %v, want nil", herr)
			}
			queued, err := s.SubscriptionDeliveries(ctx, "demo", sub.ID, "", 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(queued) != tt.wantQueued {
				t.Errorf("deliveries queued = %d, want %d", len(queued), tt.wantQueued)
			}
		})
	}
}
