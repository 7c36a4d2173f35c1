package members

import (
	"context"
	"log/slog"
	"time"

	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/services/members/store"
)

// feeds are the events the members service consumes: the other
// services' events into the activity ledger, and the communications
// service's unsubscribes as consent withdrawals.
func feeds(st *store.Store) []service.Feed {
	return []service.Feed{
		{Name: "members: activity feed", Group: events.ActivityGroup, Topics: events.ActivityTopics, Handle: events.NewActivityFeed(st).Handle},
		{Name: "members: unsubscribe feed", Group: events.UnsubscribeGroup, Topics: events.UnsubscribeTopics, Handle: events.NewUnsubscribeFeed(st).Handle},
	}
}

// reviewLevels applies level downgrades (and any missed upgrades) to every
// community.
func reviewLevels(communities []string, st *store.Store, logger *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		for _, community := range communities {
			settings, err := st.Settings(ctx, community)
			if err != nil {
				logger.WarnContext(ctx, "level review skipped", "community", community, "error", err)
				continue
			}
			members, up, down, err := st.Relevel(ctx, community, settings, events.Factory{}, nil, "")
			if err != nil {
				logger.WarnContext(ctx, "level review failed", "community", community, "error", err)
				continue
			}
			logger.InfoContext(ctx, "levels reviewed", "community", community, "members", members, "upgraded", up, "downgraded", down)
		}
	}
}

// Retention of what activity sources bring in: the delivery log (which
// also deduplicates redeliveries, beyond GitHub's and Discourse's replay
// window) and activity nobody was found for.
const (
	DeliveryRetention  = 30 * 24 * time.Hour
	UnmatchedRetention = 180 * 24 * time.Hour
)

// pruneIntegrations drops delivery log entries and unmatched activity past
// their retention.
func pruneIntegrations(st *store.Store, logger *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		now := time.Now()
		n, err := st.Prune(ctx, now.Add(-DeliveryRetention), now.Add(-UnmatchedRetention))
		if err != nil {
			logger.WarnContext(ctx, "pruning the delivery log failed", "error", err)
			return
		}
		if n > 0 {
			logger.InfoContext(ctx, "delivery log pruned", "rows", n)
		}
	}
}
