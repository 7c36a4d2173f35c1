package communications

import (
	"context"
	"log/slog"
	"time"

	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// feeds are the events the communications service consumes: members.v1
// into the recipients projection (and the e-mails of double opt-in, after
// which wake tells the dispatcher), and events.v1 into the list of
// upcoming events the digests show.
func feeds(st *store.Store, in *inbox.Inbox, wake func()) []service.Feed {
	return []service.Feed{
		// Each member's events in order, 16 members at once: journeys wait
		// for their member to be projected before they can e-mail them.
		{Name: "communications: recipients projection", Group: events.ProjectionGroup, Lanes: 16,
			Topics: func(c string) []string { return []string{memberevents.Topic(c)} }, Handle: events.NewProjection(st, in, wake).Handle},
		{Name: "communications: events feed", Group: events.EventsGroup,
			Topics: func(c string) []string { return []string{events.EventsTopic(c)} }, Handle: events.NewEventsFeed(st, in).Handle},
	}
}

// subscriptionsFeed queues the domain events subscriptions asked for.
func subscriptionsFeed(st *store.Store, wake func()) service.Feed {
	return service.Feed{Name: "communications: subscriptions feed", Group: events.SubscriptionsGroup, Topics: events.SubscriptionTopics,
		Handle: events.NewSubscriptionsFeed(st, wake, nil).Handle}
}

// SubscriptionDeliveryRetention is how long the domain webhooks' delivery
// log keeps a finished delivery.
const SubscriptionDeliveryRetention = 30 * 24 * time.Hour

func pruneSubscriptionDeliveries(st *store.Store, logger *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		if n, err := st.PruneSubscriptionDeliveries(ctx, time.Now().Add(-SubscriptionDeliveryRetention)); err != nil {
			logger.WarnContext(ctx, "pruning the subscription delivery log failed", "error", err)
		} else if n > 0 {
			logger.InfoContext(ctx, "subscription delivery log pruned", "rows", n)
		}
	}
}
