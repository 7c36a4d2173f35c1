package partners

import (
	"context"
	"log/slog"

	"github.com/kinshiphq/kinship/services/partners/api"
)

// sweepAgreements sweeps every community, audited with the sweep as the
// actor. A failed sweep is logged and retried at the next tick.
func sweepAgreements(communities []string, sweeper *api.Sweeper, logger *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		ctx = api.AsService(ctx, "sweep")
		for _, community := range communities {
			if _, err := sweeper.Sweep(ctx, community); err != nil && ctx.Err() == nil {
				logger.WarnContext(ctx, "agreement sweep failed", "community", community, "error", err)
			}
		}
	}
}
