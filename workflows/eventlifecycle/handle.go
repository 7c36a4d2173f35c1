package eventlifecycle

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	published "github.com/kinshiphq/kinship/services/events/events"
)

// Handle is the trigger's whole part for events.v1: it starts a lifecycle
// on EventScheduled and signals it on EventUpdated, EventCancelled and
// SeatOffered, in community's namespace (c); other events are skipped.
// acted is false when the event changed nothing (a redelivery, or no
// lifecycle running). Undecodable events, and events about another
// community than the one whose topic they came on, are permanent
// failures, for the dead-letter topic.
func Handle(ctx context.Context, c client.Client, community string, e kafka.Event, s Settings) (acted bool, err error) {
	switch e.Type {
	case published.TypeEventScheduled:
		var m eventsv1.EventScheduled
		if err := decode(e, community, &m); err != nil {
			return false, err
		}
		return StartFromScheduled(ctx, c, &m, s)
	case published.TypeEventUpdated:
		var m eventsv1.EventUpdated
		if err := decode(e, community, &m); err != nil {
			return false, err
		}
		return SignalFromUpdated(ctx, c, &m)
	case published.TypeEventCancelled:
		var m eventsv1.EventCancelled
		if err := decode(e, community, &m); err != nil {
			return false, err
		}
		return SignalFromCancelled(ctx, c, &m)
	case published.TypeSeatOffered:
		var m eventsv1.SeatOffered
		if err := decode(e, community, &m); err != nil {
			return false, err
		}
		return SignalFromSeatOffered(ctx, c, &m)
	}
	return false, nil
}

// decode reads e into msg and checks it names an event of community.
func decode(e kafka.Event, community string, msg interface {
	proto.Message
	GetCommunity() string
	GetEventId() string
}) error {
	if err := kafka.Decode(e, e.Type, msg); err != nil {
		return kafka.Permanent(err)
	}
	switch {
	case msg.GetEventId() == "":
		return kafka.Permanent(fmt.Errorf("event %s names no event", e.ID))
	case msg.GetCommunity() != community:
		return kafka.Permanent(fmt.Errorf("event %s on %s is about community %q", e.ID, e.Topic, msg.GetCommunity()))
	}
	return nil
}
