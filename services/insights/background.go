package insights

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/services/insights/events"
	"github.com/kinshiphq/kinship/services/insights/store"
)

// feed is what the insights service consumes: every domain topic of each
// community, into the projection.
func feed(st *store.Store, in *inbox.Inbox, gate *events.Gate) service.Feed {
	return service.Feed{Name: "insights: projection", Group: events.Group, Topics: events.Topics,
		Handle: events.NewProjection(st, in, gate).Handle}
}

// recomputeMoved recomputes the series of communities whose time zone
// changed since the last start.
func recomputeMoved(ctx context.Context, st *store.Store, logger *slog.Logger) error {
	moved, err := st.EnsureCommunities(ctx)
	if err != nil {
		return fmt.Errorf("insights: %w", err)
	}
	for _, c := range moved {
		if err := st.DB().InTx(ctx, func(tx *sql.Tx) error { return st.Recompute(ctx, tx, c) }); err != nil {
			return fmt.Errorf("insights: recompute %s in its new time zone: %w", c, err)
		}
		logger.InfoContext(ctx, "series recomputed for a new time zone", "community", c)
	}
	return nil
}

// purgeInbox forgets handled event ids older than keep.
func purgeInbox(in *inbox.Inbox, keep time.Duration, logger *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		if n, err := in.Purge(ctx, time.Now().Add(-keep)); err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "inbox purge failed", "error", err)
		} else if n > 0 {
			logger.InfoContext(ctx, "inbox purged", "events", n)
		}
	}
}
