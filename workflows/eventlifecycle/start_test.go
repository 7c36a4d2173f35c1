package eventlifecycle

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	published "github.com/kinshiphq/kinship/services/events/events"
)

func times(id string, start time.Time) *eventsv1.OccurrenceTimes {
	return &eventsv1.OccurrenceTimes{OccurrenceId: id, StartTime: timestamppb.New(start), EndTime: timestamppb.New(start.Add(time.Hour))}
}

func TestStartFromScheduledStartsOnceWithTheEventsOccurrences(t *testing.T) {
	c := &mocks.Client{}
	scheduled := &eventsv1.EventScheduled{EventId: "e1", Community: "demo", Occurrences: []*eventsv1.OccurrenceTimes{times("o1", t0)}}
	want := Input{Community: "demo", EventID: "e1", Occurrences: []Occurrence{{ID: "o1", Start: t0, End: t0.Add(time.Hour)}}}
	options := mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
		return o.ID == "event-lifecycle/demo/e1" && o.TaskQueue == TaskQueue && o.WorkflowExecutionErrorWhenAlreadyStarted &&
			o.WorkflowIDReusePolicy == enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	})
	input := mock.MatchedBy(func(in Input) bool {
		return in.EventID == want.EventID && len(in.Occurrences) == 1 && in.Occurrences[0].ID == "o1" && in.Occurrences[0].Start.Equal(t0)
	})
	c.On("ExecuteWorkflow", mock.Anything, options, WorkflowName, input).Return(&mocks.WorkflowRun{}, nil).Once()
	c.On("ExecuteWorkflow", mock.Anything, options, WorkflowName, input).
		Return(nil, serviceerror.NewWorkflowExecutionAlreadyStarted("running", "", "")).Once()
	for i, want := range []bool{true, false} {
		started, err := StartFromScheduled(context.Background(), c, scheduled, Settings{})
		if err != nil || started != want {
			t.Errorf("start #%d = %v, %v; want %v", i+1, started, err, want)
		}
	}
	c.AssertExpectations(t)
	if _, err := StartFromScheduled(context.Background(), c, &eventsv1.EventScheduled{Community: "demo"}, Settings{}); err == nil {
		t.Error("an EventScheduled without an event id was accepted")
	}
}

func TestSignalsReachTheEventsLifecycle(t *testing.T) {
	ctx := context.Background()
	c := &mocks.Client{}
	id := WorkflowID("demo", "e1")
	c.On("SignalWorkflow", mock.Anything, id, "", SignalEventUpdated, mock.MatchedBy(func(u Update) bool {
		return u.OccurrenceID == "" && len(u.Occurrences) == 1 && u.Occurrences[0].ID == "o2"
	})).Return(nil).Once()
	c.On("SignalWorkflow", mock.Anything, id, "", SignalEventCancelled, Cancellation{OccurrenceID: "o2"}).Return(nil).Once()
	c.On("SignalWorkflow", mock.Anything, id, "", SignalSeatOffered, SeatOffer{OccurrenceID: "o2", MemberID: "m1", ExpiresAt: t0}).
		Return(serviceerror.NewNotFound("workflow not found")).Once()
	c.On("SignalWorkflow", mock.Anything, WorkflowID("demo", "e2"), "", SignalEventCancelled, Cancellation{}).Return(errors.New("unavailable")).Once()

	if ok, err := SignalFromUpdated(ctx, c, &eventsv1.EventUpdated{EventId: "e1", Community: "demo", Changed: []string{"start_time"},
		Occurrences: []*eventsv1.OccurrenceTimes{times("o2", t0)}}); !ok || err != nil {
		t.Errorf("update = %v, %v", ok, err)
	}
	if ok, err := SignalFromUpdated(ctx, c, &eventsv1.EventUpdated{EventId: "e1", Community: "demo", Changed: []string{"status"}}); ok || err != nil {
		t.Errorf("a completion moved timers: %v, %v", ok, err)
	}
	if ok, err := SignalFromCancelled(ctx, c, &eventsv1.EventCancelled{EventId: "e1", Community: "demo", OccurrenceId: "o2"}); !ok || err != nil {
		t.Errorf("cancellation = %v, %v", ok, err)
	}
	if ok, err := SignalFromSeatOffered(ctx, c, &eventsv1.SeatOffered{EventId: "e1", Community: "demo", OccurrenceId: "o2", MemberId: "m1",
		ExpiresAt: timestamppb.New(t0)}); ok || err != nil {
		t.Errorf("an offer for an event without a lifecycle = %v, %v; want nothing done, no error", ok, err)
	}
	if _, err := SignalFromCancelled(ctx, c, &eventsv1.EventCancelled{EventId: "e2", Community: "demo"}); err == nil {
		t.Error("an unavailable server was not reported")
	}
	c.AssertExpectations(t)
}

func TestHandleSkipsOtherEventsAndDeadLettersGarbage(t *testing.T) {
	c := &mocks.Client{}
	data, _ := proto.Marshal(&eventsv1.RSVPReceived{EventId: "e1"})
	if ok, err := Handle(context.Background(), c, "demo", kafka.Event{ID: "x", Type: published.TypeRSVPReceived, ContentType: kafka.ContentTypeProtobuf, Data: data}, Settings{}); ok || err != nil {
		t.Errorf("RSVPReceived = %v, %v; want skipped", ok, err)
	}
	elsewhere, _ := proto.Marshal(&eventsv1.EventCancelled{EventId: "e1", Community: "elsewhere"})
	for name, e := range map[string]kafka.Event{
		"undecodable":       {ID: "y", Type: published.TypeEventCancelled, ContentType: kafka.ContentTypeProtobuf, Data: []byte{0xff, 0xff}},
		"another community": {ID: "z", Type: published.TypeEventCancelled, ContentType: kafka.ContentTypeProtobuf, Data: elsewhere},
	} {
		_, err := Handle(context.Background(), c, "demo", e, Settings{})
		var permanent *kafka.PermanentError
		if !errors.As(err, &permanent) {
			t.Errorf("%s: %v, want a permanent failure", name, err)
		}
	}
	c.AssertNotCalled(t, "SignalWorkflow")
}
