// Package api serves the insights service's Connect APIs — metrics,
// cohorts, funnels, exports, rebuilds and reports (InsightsService) and
// goals (GoalsService) — and holds the engine that answers them, the
// rebuild and the weekly health report.
package api

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/insights/domain"
	"github.com/kinshiphq/kinship/services/insights/store"
)

// Deps are what the handlers share.
type Deps struct {
	Engine    *Engine
	Audit     *audit.Log
	Rebuilder *Rebuilder
	Reporter  *Reporter
	Logger    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

type base struct {
	engine    *Engine
	store     *store.Store
	audit     *audit.Log
	rebuilder *Rebuilder
	reporter  *Reporter
	logger    *slog.Logger
	now       func() time.Time
}

func newBase(d Deps) base {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return base{engine: d.Engine, store: d.Engine.Store(), audit: d.Audit, rebuilder: d.Rebuilder, reporter: d.Reporter, logger: d.Logger, now: now}
}

// community checks a request's community is one served here.
func (b base) community(raw string) (string, error) {
	c, ferr := validate.Community(raw)
	if ferr != nil {
		return "", ferr
	}
	if _, ok := b.store.Zone(c); !ok {
		return "", validate.Field("community", "is not a community served here")
	}
	return c, nil
}

// toConnect maps an error to the code a caller can act on.
func (b base) toConnect(ctx context.Context, spec connect.Spec, err error) error {
	switch {
	case errors.Is(err, store.ErrUnknownCommunity):
		return rpc.InvalidArgument(validate.Field("community", "is not a community served here"))
	case errors.Is(err, domain.ErrGoalNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, domain.ErrGoalExists):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, domain.ErrManaged), errors.Is(err, errNoSources), errors.Is(err, errNoReports):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, errRebuilding):
		return connect.NewError(connect.CodeAborted, err)
	}
	return rpc.ToConnect(ctx, b.logger, spec.Procedure, err)
}

// actor names the caller for logs: a subject, never personal data.
func actor(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok {
		return string(p.Kind) + ":" + p.Subject
	}
	return "anonymous"
}
