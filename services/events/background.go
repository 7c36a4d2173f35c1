package events

import (
	"context"
	"log/slog"
	"time"

	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/services/events/api"
	published "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/services/events/store"
)

// erasures consumes members.v1 and erases members' personal data here.
func erasures(st *store.Store, communities []string, logger *slog.Logger) service.Feed {
	return service.Feed{Name: "events: erasures", Group: published.ErasureGroup, Topics: published.ErasureTopics,
		Handle: published.NewErasure(st, communities, logger).Handle}
}

// sweep moves expired seat offers on, marks no-shows and completes ended
// events. A failed sweep is logged and tried again at the next tick.
func sweep(h *api.Handler, noShowAfter time.Duration, logger *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		res, err := h.Sweep(ctx, noShowAfter)
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
