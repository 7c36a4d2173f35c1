package api

import (
	"context"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/services/events/domain"
)

// runsDoor lets the call go on when the caller may see an occurrence's
// attendees and check people in to it: callers granted the procedure
// community-wide (the organising team, and the worker where the policy
// admits it), and the hosts of the occurrence's event — by the member id
// of their credential, looked up in community in the query. Everyone else
// gets domain.ErrNotHost, whether or not the occurrence exists.
func (h *Handler) runsDoor(ctx context.Context, community, occurrenceID string) error {
	if auth.ScopeOf(ctx) == auth.ScopeCommunity {
		return nil
	}
	m := callerMember(ctx)
	if m == "" {
		return domain.ErrNotHost
	}
	host, err := h.store.HostsOccurrence(ctx, community, occurrenceID, m)
	if err != nil {
		return err
	}
	if !host {
		return domain.ErrNotHost
	}
	return nil
}
