package events

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/events/domain"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

func TestSeatTakenRoundTripsAndIsKeyedByMember(t *testing.T) {
	at := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	r := domain.RSVP{Community: "demo", EventID: "e1", OccurrenceID: "o1", MemberID: "m1", Status: domain.RSVPGoing, AnsweredAt: at}
	e, err := Factory{}.SeatTaken(r, true, at)
	if err != nil {
		t.Fatal(err)
	}
	if e.Topic != "demo.events.v1" || e.Key != "m1" || e.Type != TypeSeatTaken || e.Source != "/communities/demo/events" {
		t.Errorf("envelope = %+v", e)
	}
	parsed, err := kafka.ParseEvent(e.Message())
	if err != nil {
		t.Fatal(err)
	}
	var got eventsv1.SeatTaken
	if err := kafka.Decode(parsed, TypeSeatTaken, &got); err != nil {
		t.Fatal(err)
	}
	if got.GetMemberId() != "m1" || !got.GetTakenAt().AsTime().Equal(at) || !got.GetFromWaitlist() {
		t.Errorf("decoded %v", &got)
	}
	ev, err := Factory{}.EventCancelled(domain.Event{ID: "e1", Community: "demo"}, "", "rain", at)
	if err != nil || ev.Key != "e1" {
		t.Errorf("EventCancelled key = %q, %v; want the event id", ev.Key, err)
	}
}

type eraser struct {
	calls []string
	err   error
}

func (e *eraser) EraseMember(_ context.Context, eventID, community, memberID string) (bool, error) {
	e.calls = append(e.calls, eventID+"/"+community+"/"+memberID)
	return true, e.err
}

func erasedEvent(t *testing.T, community, member string) kafka.Event {
	t.Helper()
	data, err := proto.Marshal(&membersv1.MemberErased{MemberId: member, Community: community, ErasedAt: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Event{ID: "ev-1", Type: memberevents.TypeMemberErased, ContentType: kafka.ContentTypeProtobuf, Data: data}
}

func TestErasureHandler(t *testing.T) {
	e := &eraser{}
	h := NewErasure(e, []string{"demo"}, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	if err := h.Handle(ctx, erasedEvent(t, "demo", "m1")); err != nil || len(e.calls) != 1 || e.calls[0] != "ev-1/demo/m1" {
		t.Errorf("erasure = %v, calls %v", err, e.calls)
	}
	if err := h.Handle(ctx, kafka.Event{ID: "x", Type: memberevents.TypeMemberJoined}); err != nil || len(e.calls) != 1 {
		t.Errorf("other members.v1 events = %v, calls %v; want them skipped", err, e.calls)
	}
	var perm *kafka.PermanentError
	for name, ev := range map[string]kafka.Event{
		"garbage":         {ID: "g", Type: memberevents.TypeMemberErased, ContentType: kafka.ContentTypeProtobuf, Data: []byte{0xff, 0xff}},
		"json":            {ID: "j", Type: memberevents.TypeMemberErased, ContentType: "application/json", Data: []byte("{}")},
		"no member":       erasedEvent(t, "demo", ""),
		"other community": erasedEvent(t, "elsewhere", "m1"),
		"malformed id":    erasedEvent(t, "demo", "m1'; DROP TABLE rsvps; --"),
	} {
		if err := h.Handle(ctx, ev); !errors.As(err, &perm) {
			t.Errorf("%s: %v, want a permanent failure", name, err)
		}
	}
	e.err = errors.New("database down")
	if err := h.Handle(ctx, erasedEvent(t, "demo", "m2")); err == nil || errors.As(err, &perm) {
		t.Errorf("a failing store = %v, want a retryable error", err)
	}
}
