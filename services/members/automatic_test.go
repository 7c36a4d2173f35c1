package members_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	kafkago "github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/events"
)

// What the events service publishes becomes activity without anyone
// recording it by hand: each host of a completed event gets a
// hosted_event with the attendance, and an attendee's rating a
// gave_feedback — once each, however often the events arrive and however
// often the rating is changed.
func TestEventsServiceActivitiesAreRecordedOnce(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	ada := s.add(t, validJoin())
	grace := s.add(t, &membersv1.JoinCommunityRequest{Community: "demo", Email: "grace@example.org", DisplayName: "Grace Hopper"})
	record := func(id, typ, key string, payload proto.Message) kafkago.Message {
		data, err := proto.Marshal(payload)
		if err != nil {
			t.Fatal(err)
		}
		return kafka.Event{ID: id, Type: typ, Source: "/communities/demo/events", Time: time.Now(), ContentType: kafka.ContentTypeProtobuf,
			Data: data, Topic: "demo.events.v1", Key: key}.Message()
	}
	completed := &eventsv1.EventCompleted{EventId: "ev-1", Community: "demo", HostIds: []string{ada, grace}, OrganiserIds: []string{ada},
		CompletedAt: timestamppb.Now(), Occurrences: 1, SeatsTaken: 12, Attended: 9, NoShows: 3}
	rated := func(rating int32) *eventsv1.FeedbackGiven {
		return &eventsv1.FeedbackGiven{EventId: "ev-1", OccurrenceId: "oc-1", Community: "demo", MemberId: grace, GivenAt: timestamppb.Now(), Rating: rating}
	}
	if err := kafka.EnsureTopics(ctx, s.brokers, kafka.Security{}, kafka.Topic{Name: "demo.events.v1", Partitions: 1, ReplicationFactor: 1},
		kafka.Topic{Name: "demo.events.v1.dlq", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: s.brokers})
	defer w.Close()
	// The completion delivered twice; the rating given, then changed.
	if err := w.WriteMessages(ctx,
		record("done-1", events.TypeEventCompleted, "ev-1", completed), record("done-1", events.TypeEventCompleted, "ev-1", completed),
		record("fb-1", events.TypeFeedbackGiven, "ev-1", rated(4)), record("fb-2", events.TypeFeedbackGiven, "ev-1", rated(5)),
		// Last, under the same key and so on the same partition (the
		// consumer may have created the topic with several before
		// EnsureTopics ran): once it is in, so is everything before it.
		record("sentinel", events.TypeCheckedIn, "ev-1", &eventsv1.CheckedIn{EventId: "ev-0", OccurrenceId: "oc-0", Community: "demo", MemberId: ada,
			CheckedInAt: timestamppb.Now()}),
	); err != nil {
		t.Fatal(err)
	}
	engagement := membersv1connect.NewEngagementServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
	byType := func(id string) map[string][]*membersv1.Activity {
		res, err := engagement.GetEngagement(ctx, connect.NewRequest(&membersv1.GetEngagementRequest{MemberId: id}))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]*membersv1.Activity{}
		for _, a := range res.Msg.GetRecent() {
			out[a.GetType()] = append(out[a.GetType()], a)
		}
		return out
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && len(byType(ada)["attended_event"]) == 0 {
		time.Sleep(50 * time.Millisecond)
	}
	for _, id := range []string{ada, grace} {
		hosted := byType(id)["hosted_event"]
		if len(hosted) != 1 || hosted[0].GetProperties()["attended"] != "9" || hosted[0].GetProperties()["seats_taken"] != "12" ||
			hosted[0].GetProperties()["event_id"] != "ev-1" {
			t.Errorf("hosted_event of %s = %v, want one with the attendance", id, hosted)
		}
	}
	if fb := byType(grace)["gave_feedback"]; len(fb) != 1 || fb[0].GetProperties()["occurrence_id"] != "oc-1" {
		t.Errorf("gave_feedback of grace = %v, want one however often she rated", fb)
	}
}
