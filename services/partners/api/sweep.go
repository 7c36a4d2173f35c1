package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/kinshiphq/kinship/services/partners/domain"
	"github.com/kinshiphq/kinship/services/partners/events"
	"github.com/kinshiphq/kinship/services/partners/store"
)

// Sweeper runs the agreements' daily sweep: it activates signed agreements
// whose term began, expires those whose term ended (AgreementEnded) and
// announces those ending within a threshold (AgreementExpiring, once per
// agreement, end date and threshold — the store remembers which were
// announced, so restarts and replicas never announce twice).
type Sweeper struct {
	store      *store.Store
	events     events.Factory
	thresholds []int
	now        func() time.Time
	logger     *slog.Logger
	// notifier tells owners and organisers about attention items; nil
	// only lists them.
	notifier      Notifier
	escalateAfter time.Duration
}

// WithAttention makes the sweep tell people about the attention items it
// raises through n, escalating to the organisers escalateAfter after the
// owner was told (0 means domain.DefaultEscalateAfter).
func (s *Sweeper) WithAttention(n Notifier, escalateAfter time.Duration) *Sweeper {
	if escalateAfter <= 0 {
		escalateAfter = domain.DefaultEscalateAfter
	}
	s.notifier, s.escalateAfter = n, escalateAfter
	return s
}

// NewSweeper returns a sweeper of st announcing at thresholds days before
// an agreement's end (validated with domain.ValidateThresholds), reading
// the day from now (nil means time.Now).
func NewSweeper(st *store.Store, thresholds []int, now func() time.Time, logger *slog.Logger) *Sweeper {
	if now == nil {
		now = time.Now
	}
	return &Sweeper{store: st, thresholds: slices.Clone(thresholds), now: now, logger: logger, escalateAfter: domain.DefaultEscalateAfter}
}

// SweepReport is what one sweep of a community did.
type SweepReport struct {
	Today     domain.Date
	Activated int
	Announced int
	Expired   int
	// Attention is what the attention pass did after the agreements.
	Attention AttentionReport
}

// Sweep sweeps community for the current day. Each agreement is swept in
// a transaction of its own; one failing does not stop the others, and the
// next sweep retries it.
func (s *Sweeper) Sweep(ctx context.Context, community string) (SweepReport, error) {
	now := s.now()
	r := SweepReport{Today: domain.DateOf(now)}
	horizon := 0
	if len(s.thresholds) > 0 {
		horizon = slices.Max(s.thresholds)
	}
	ids, err := s.store.SweepCandidates(ctx, community, r.Today, horizon)
	if err != nil {
		return r, err
	}
	var errs []error
	for _, id := range ids {
		res, err := s.store.SweepAgreement(ctx, community, id, r.Today, s.thresholds, now, s.events)
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep agreement %s: %w", id, err))
			continue
		}
		if res.Activated {
			r.Activated++
		}
		if res.Expired {
			r.Expired++
		}
		r.Announced += res.Announced
	}
	s.logger.InfoContext(ctx, "agreements swept", "community", community, "day", r.Today.String(), "candidates", len(ids),
		"activated", r.Activated, "announced", r.Announced, "expired", r.Expired, "failed", len(errs))
	attention, err := s.attend(ctx, community, horizon)
	if err != nil {
		errs = append(errs, fmt.Errorf("attention list: %w", err))
	}
	r.Attention = attention
	s.logger.InfoContext(ctx, "attention list kept", "community", community, "raised", attention.Raised, "resolved", attention.Resolved,
		"notified", attention.Notified, "escalated", attention.Escalated)
	return r, errors.Join(errs...)
}
