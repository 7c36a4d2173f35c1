package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// CloudEvents types of events.v1 the events feed reads.
const (
	TypeEventScheduled = "kinship.events.v1.EventScheduled"
	TypeEventUpdated   = "kinship.events.v1.EventUpdated"
	TypeEventCancelled = "kinship.events.v1.EventCancelled"
)

// EventsTopic is a community's events.v1 topic.
func EventsTopic(community string) string { return community + ".events.v1" }

// EventsGroup is the consumer group keeping the upcoming events digests
// list.
const EventsGroup = "kinship-communications-events"

// EventsFeed keeps the upcoming events from events.v1, each event applied
// once.
type EventsFeed struct {
	store *store.Store
	inbox *inbox.Inbox
}

// NewEventsFeed applies events.v1 events to s.
func NewEventsFeed(s *store.Store, in *inbox.Inbox) *EventsFeed {
	return &EventsFeed{store: s, inbox: in}
}

// Handle applies one events.v1 event; types it does not need are skipped.
func (f *EventsFeed) Handle(ctx context.Context, e kafka.Event) error {
	var msg proto.Message
	switch e.Type {
	case TypeEventScheduled:
		msg = &eventsv1.EventScheduled{}
	case TypeEventUpdated:
		msg = &eventsv1.EventUpdated{}
	case TypeEventCancelled:
		msg = &eventsv1.EventCancelled{}
	default:
		return nil
	}
	if e.ID == "" {
		return kafka.Permanent(errors.New("event has no id"))
	}
	if err := kafka.Decode(e, e.Type, msg); err != nil {
		return kafka.Permanent(err)
	}
	if err := checkTimes(msg); err != nil {
		return kafka.Permanent(fmt.Errorf("event %s: %w", e.ID, err))
	}
	about := msg.(interface {
		GetCommunity() string
		GetEventId() string
	})
	community, eventID := about.GetCommunity(), about.GetEventId()
	if _, ferr := validate.Slug("community", community, 63); ferr != nil {
		return kafka.Permanent(fmt.Errorf("event %s: %w", e.ID, ferr))
	}
	if e.Topic != "" && e.Topic != EventsTopic(community) {
		return kafka.Permanent(fmt.Errorf("event %s names community %q but came on topic %s", e.ID, community, e.Topic))
	}
	if eventID == "" || len(eventID) > 64 {
		return kafka.Permanent(fmt.Errorf("event %s: event id is empty or too long", e.ID))
	}
	var apply func(tx *sql.Tx) error
	switch m := msg.(type) {
	case *eventsv1.EventScheduled:
		occs := make([]domain.UpcomingEvent, 0, len(m.GetOccurrences()))
		for _, o := range m.GetOccurrences() {
			occs = append(occs, domain.UpcomingEvent{EventID: m.GetEventId(), OccurrenceID: o.GetOccurrenceId(), Community: m.GetCommunity(),
				Title: m.GetTitle(), Kind: kindName(m.GetKind()), Public: m.GetVisibility() == eventsv1.Visibility_VISIBILITY_PUBLIC,
				Tags: m.GetTags(), TimeZone: m.GetTimeZone(), StartsAt: o.GetStartTime().AsTime(), EndsAt: o.GetEndTime().AsTime()})
		}
		apply = func(tx *sql.Tx) error { return f.store.ScheduleEvent(ctx, tx, community, eventID, occs) }
	case *eventsv1.EventUpdated:
		if st := m.GetStatus(); st == eventsv1.EventStatus_EVENT_STATUS_CANCELLED || st == eventsv1.EventStatus_EVENT_STATUS_COMPLETED {
			apply = func(tx *sql.Tx) error { return f.store.CancelEvent(ctx, tx, community, eventID, "") }
			break
		}
		times := make([]domain.UpcomingEvent, 0, len(m.GetOccurrences()))
		for _, o := range m.GetOccurrences() {
			times = append(times, domain.UpcomingEvent{OccurrenceID: o.GetOccurrenceId(), StartsAt: o.GetStartTime().AsTime(), EndsAt: o.GetEndTime().AsTime()})
		}
		apply = func(tx *sql.Tx) error {
			return f.store.RescheduleEvent(ctx, tx, community, eventID, times, m.GetOccurrenceId() != "")
		}
	case *eventsv1.EventCancelled:
		apply = func(tx *sql.Tx) error { return f.store.CancelEvent(ctx, tx, community, eventID, m.GetOccurrenceId()) }
	}
	_, err := f.inbox.Handle(ctx, EventsGroup, e.ID, apply)
	return err
}

func kindName(k eventsv1.EventKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "EVENT_KIND_"))
}
