package events

import (
	"context"
	"errors"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/store"
)

// feedStore is a members store on SQLite with one member of demo, Ada,
// who consents to announcements.
func feedStore(f *testing.F) (*store.Store, *db.DB, string) {
	d := dbtest.Open(f, "sqlite", nil, outbox.Migrations(), audit.Migrations(), store.Migrations())
	st := store.New(d, outbox.New(d, propagation.TraceContext{}))
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindUser, Subject: "o", Community: "demo", Roles: []auth.Role{auth.Organiser}}, auth.ScopeCommunity)
	if err := st.EnsureCommunities(ctx, "demo", "other"); err != nil {
		f.Fatal(err)
	}
	m, err := domain.NewMember(domain.JoinRequest{Community: "demo", Profile: domain.Profile{Email: "ada@example.org", DisplayName: "Ada"},
		EmailConsent: true, Vouched: true}, domain.DefaultSettings("demo"), "01900000-0000-7000-8000-0000000000ad", time.Now())
	if err != nil {
		f.Fatal(err)
	}
	rec, _ := domain.NewConsentRecord(m.ID, domain.PurposeAnnouncements, true, domain.ConsentSourceOrganiser, domain.DefaultPolicyVersion, time.Now().Add(-time.Hour))
	if err := st.CreateMember(ctx, m, &rec, audit.New(d)); err != nil {
		f.Fatal(err)
	}
	return st, d, m.ID
}

// fuzzRecord builds a Kafka record from fuzzed parts: a CloudEvents type
// picked from those the feed knows (or typed freely), a topic, a payload
// and header values.
func fuzzRecord(typeIndex uint8, freeType, topic string, payload []byte, id, source, contentType, at string) kafkago.Message {
	known := []string{TypeCheckedIn, TypeSeatTaken, TypeContributionRecorded, TypeUnsubscribed, TypeMemberJoined}
	typ := freeType
	if int(typeIndex) < len(known) {
		typ = known[typeIndex]
	}
	return kafkago.Message{Topic: topic, Value: payload, Headers: []kafkago.Header{
		{Key: kafka.HeaderSpecVersion, Value: []byte(kafka.SpecVersion)}, {Key: kafka.HeaderID, Value: []byte(id)},
		{Key: kafka.HeaderType, Value: []byte(typ)}, {Key: kafka.HeaderSource, Value: []byte(source)},
		{Key: kafka.HeaderTime, Value: []byte(at)}, {Key: kafka.HeaderContentType, Value: []byte(contentType)},
	}}
}

// fuzzCounts are the rows a feed may write.
func fuzzCounts(t *testing.T, d *db.DB) [4]int {
	t.Helper()
	var out [4]int
	for i, table := range []string{"activities", "consent_ledger", "outbox", "audit_log"} {
		if err := d.QueryRow("SELECT count(*) FROM " + table).Scan(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func protoBytes(m proto.Message) []byte {
	b, _ := proto.Marshal(m)
	return b
}

// FuzzActivityFeed hands the activity feed records with arbitrary
// payloads and headers, as a broken or hostile producer on another
// service's topic could: it never panics, an error is permanent (the
// record is dead-lettered, not retried forever) unless the store failed,
// a failure writes nothing, and a success writes one activity with its
// event, or nothing.
func FuzzActivityFeed(f *testing.F) {
	st, d, ada := feedStore(f)
	now := timestamppb.Now()
	for _, seed := range []struct {
		typ     uint8
		topic   string
		payload []byte
	}{
		{0, "demo.events.v1", protoBytes(&eventsv1.CheckedIn{Community: "demo", MemberId: ada, EventId: "e1", CheckedInAt: now})},
		{1, "demo.events.v1", protoBytes(&eventsv1.SeatTaken{Community: "demo", MemberId: ada, TakenAt: now})},
		{0, "other.events.v1", protoBytes(&eventsv1.CheckedIn{Community: "demo", MemberId: ada, CheckedInAt: now})},
		{0, "demo.events.v1", protoBytes(&eventsv1.CheckedIn{Community: "demo", MemberId: "nobody", CheckedInAt: now})},
		{0, "demo.events.v1", protoBytes(&eventsv1.CheckedIn{Community: "demo", MemberId: ada})},
		{2, "demo.partners.v1", []byte{0xff, 0x01}},
		{0, "demo.events.v1", nil},
	} {
		f.Add(seed.typ, "", seed.topic, seed.payload, "ev-1", "/communities/demo/events", kafka.ContentTypeProtobuf, time.Now().UTC().Format(time.RFC3339Nano))
	}
	feed := NewActivityFeed(st)
	f.Fuzz(func(t *testing.T, typeIndex uint8, freeType, topic string, payload []byte, id, source, contentType, at string) {
		e, err := kafka.ParseEvent(fuzzRecord(typeIndex, freeType, topic, payload, id, source, contentType, at))
		if err != nil {
			return // not a CloudEvent: the consumer dead-letters it before any feed sees it
		}
		before := fuzzCounts(t, d)
		err = feed.Handle(context.Background(), e)
		after := fuzzCounts(t, d)
		var perm *kafka.PermanentError
		switch {
		case err != nil && !errors.As(err, &perm):
			t.Fatalf("a retryable error for a bad record (it would be retried forever): %v", err)
		case err != nil && after != before:
			t.Errorf("failed (%v) but wrote %v → %v", err, before, after)
		case err == nil && after != before && (after[0]-before[0] != 1 || after[2]-before[2] < 1 || after[1] != before[1] || after[3] != before[3]):
			t.Errorf("wrote %v → %v; want one activity with its events, or nothing", before, after)
		}
	})
}

// FuzzUnsubscribeFeed does the same for the unsubscribe feed: whatever
// arrives on a communications topic, no panic, no half-written
// withdrawal, and never a consent of another community.
func FuzzUnsubscribeFeed(f *testing.F) {
	st, d, ada := feedStore(f)
	for _, seed := range []struct {
		topic   string
		payload []byte
	}{
		{"demo.communications.v1", protoBytes(&communicationsv1.Unsubscribed{MemberId: ada, Community: "demo", Purpose: "email.announcements", OccurredAt: timestamppb.Now(), Source: "one-click"})},
		{"other.communications.v1", protoBytes(&communicationsv1.Unsubscribed{MemberId: ada, Community: "demo", Purpose: "email.announcements", OccurredAt: timestamppb.Now()})},
		{"demo.communications.v1", protoBytes(&communicationsv1.Unsubscribed{MemberId: ada, Community: "demo", Purpose: "email.transactional", OccurredAt: timestamppb.Now()})},
		{"demo.communications.v1", protoBytes(&communicationsv1.Unsubscribed{MemberId: "nobody", Community: "demo", Purpose: "email.digest", OccurredAt: timestamppb.Now()})},
		{"demo.communications.v1", []byte{0x0a, 0xff}},
	} {
		f.Add(uint8(3), "", seed.topic, seed.payload, "u-1", "/communities/demo/communications", kafka.ContentTypeProtobuf, time.Now().UTC().Format(time.RFC3339Nano))
	}
	feed := NewUnsubscribeFeed(st)
	f.Fuzz(func(t *testing.T, typeIndex uint8, freeType, topic string, payload []byte, id, source, contentType, at string) {
		e, err := kafka.ParseEvent(fuzzRecord(typeIndex, freeType, topic, payload, id, source, contentType, at))
		if err != nil {
			return
		}
		before := fuzzCounts(t, d)
		err = feed.Handle(context.Background(), e)
		after := fuzzCounts(t, d)
		var perm *kafka.PermanentError
		switch {
		case err != nil && !errors.As(err, &perm):
			t.Fatalf("a retryable error for a bad record: %v", err)
		case err != nil && after != before:
			t.Errorf("failed (%v) but wrote %v → %v", err, before, after)
		case after[1] != before[1] && (after[1]-before[1] != 1 || after[2]-before[2] != 1):
			t.Errorf("wrote %v → %v; want one withdrawal with its ConsentChanged, or nothing", before, after)
		}
		var other int
		if err := d.QueryRow("SELECT count(*) FROM consent_ledger WHERE community <> 'demo'").Scan(&other); err != nil || other != 0 {
			t.Errorf("consent recorded outside demo: %d %v", other, err)
		}
	})
}
