package events

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/kinshiphq/kinship/gen/kinship/events/v1"   // the payload types of events.v1
	_ "github.com/kinshiphq/kinship/gen/kinship/members/v1"  // of members.v1
	_ "github.com/kinshiphq/kinship/gen/kinship/partners/v1" // of partners.v1
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// SubscriptionsGroup is the consumer group feeding the domain webhooks.
const SubscriptionsGroup = "kinship-communications-subscriptions"

// SubscriptionTopics are the topics of a community whose events
// subscriptions may receive.
func SubscriptionTopics(community string) []string {
	return []string{community + ".members.v1", community + ".events.v1", community + ".partners.v1"}
}

// SubscriptionsFeed queues each domain event a subscription asked for, once
// per subscription however often the event arrives, and wakes the
// dispatcher.
type SubscriptionsFeed struct {
	store *store.Store
	wake  func()
	now   func() time.Time
}

// NewSubscriptionsFeed queues events for delivery in s; wake (may be nil)
// is called when something was queued.
func NewSubscriptionsFeed(s *store.Store, wake func(), now func() time.Time) *SubscriptionsFeed {
	if now == nil {
		now = time.Now
	}
	return &SubscriptionsFeed{store: s, wake: wake, now: now}
}

// Handle queues e for its subscribers. Types no subscription can ask for
// are skipped; undecodable events, and events whose payload names another
// community than their topic, are permanent failures.
func (f *SubscriptionsFeed) Handle(ctx context.Context, e kafka.Event) error {
	name := domain.SubscriptionTypeOf(e.Type)
	if name == "" {
		return nil
	}
	community, _, _ := strings.Cut(e.Topic, ".")
	// Nobody subscribed: nothing to queue (and nothing of this event for
	// this feed to judge; the other feeds do).
	if ok, err := f.store.HasSubscribers(ctx, community, name); err != nil || !ok {
		return err
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(e.Type))
	if err != nil {
		return kafka.Permanent(fmt.Errorf("event %s: unknown payload type %s", e.ID, e.Type))
	}
	msg := mt.New().Interface()
	if err := kafka.Decode(e, e.Type, msg); err != nil {
		return kafka.Permanent(err)
	}
	if c, ok := msg.(interface{ GetCommunity() string }); !ok || c.GetCommunity() != community || e.ID == "" {
		return kafka.Permanent(fmt.Errorf("event %s on %s is not about its topic's community", e.ID, e.Topic))
	}
	payload, err := protojson.Marshal(msg)
	if err != nil {
		return kafka.Permanent(fmt.Errorf("event %s: %w", e.ID, err))
	}
	at := e.Time
	if at.IsZero() {
		at = f.now()
	}
	n, err := f.store.EnqueueEvent(ctx, community, store.Event{ID: e.ID, Type: e.Type, Source: e.Source, Subject: e.Subject, Time: at, Payload: payload}, f.now())
	if err != nil {
		return err
	}
	if n > 0 && f.wake != nil {
		f.wake()
	}
	return nil
}
