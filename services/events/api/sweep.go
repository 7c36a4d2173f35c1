package api

import (
	"context"
	"errors"
	"time"

	"github.com/kinshiphq/kinship/services/events/domain"
)

// SweepResult says what one sweep did.
type SweepResult struct {
	OffersExpired, SeatsOffered, NoShows, Completed int
}

// NoShowGrace is how long after an occurrence ends its unchecked seats
// become no-shows unless configured otherwise.
const NoShowGrace = 2 * time.Hour

// Sweep moves time-driven state on, for every community: expired seat
// offers pass to the next member on the waitlist, seats of occurrences
// that ended more than noShowAfter ago and were not checked in become
// no-shows, and published events whose last occurrence ended complete.
// Each step is idempotent, so sweeps may overlap with the RPCs doing the
// same.
func (h *Handler) Sweep(ctx context.Context, noShowAfter time.Duration) (SweepResult, error) {
	var res SweepResult
	if noShowAfter <= 0 {
		noShowAfter = NoShowGrace
	}
	var err error
	if res.OffersExpired, res.SeatsOffered, err = h.store.ExpireOffers(ctx, ""); err != nil {
		return res, err
	}
	now := h.now().UTC()
	due, err := h.store.DueForNoShows(ctx, now.Add(-noShowAfter), 100)
	if err != nil {
		return res, err
	}
	for _, d := range due {
		n, err := h.store.MarkNoShows(ctx, d[0], d[1])
		if err != nil && !errors.Is(err, domain.ErrOccurrenceNotEnded) && !errors.Is(err, domain.ErrOccurrenceCancelled) {
			return res, err
		}
		res.NoShows += n
	}
	done, err := h.store.DueForCompletion(ctx, now, 100)
	if err != nil {
		return res, err
	}
	for _, d := range done {
		if _, err := h.Complete(ctx, d[0], d[1]); err != nil && !errors.Is(err, domain.ErrStillRunning) && !errors.Is(err, domain.ErrBadTransition) {
			return res, err
		}
		res.Completed++
	}
	return res, nil
}
