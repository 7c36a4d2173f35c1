package events

import (
	"context"
	"log/slog"
	"time"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/services/events/api"
	published "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/services/events/store"
)

// erasures consumes members.v1 and erases members' personal data here,
// audited with the consumer as the actor.
func erasures(st *store.Store, communities []string, logger *slog.Logger) service.Feed {
	h := published.NewErasure(st, communities, logger)
	return service.Feed{Name: "events: erasures", Group: published.ErasureGroup, Topics: published.ErasureTopics,
		Handle: func(ctx context.Context, e kafka.Event) error { return h.Handle(api.AsService(ctx, "erasures"), e) }}
}

// sweep moves expired seat offers on, marks no-shows and completes ended
// events, audited with the sweep as the actor. A failed sweep is logged
// and tried again at the next tick.
func sweep(h *api.Handler, noShowAfter time.Duration, logger *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		res, err := h.Sweep(api.AsService(ctx, "sweep"), noShowAfter)
		if err != nil {
			if ctx.Err() == nil {
				logger.WarnContext(ctx, "sweep failed", "error", err)
			}
			return
		}
		if res != (api.SweepResult{}) {
			logger.InfoContext(ctx, "swept", "offers_expired", res.OffersExpired, "seats_offered", res.SeatsOffered,
				"no_shows", res.NoShows, "completed", res.Completed)
		}
	}
}
