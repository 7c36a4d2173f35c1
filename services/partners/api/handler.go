// Package api serves the partners service's Connect APIs. It validates
// through the domain, stores through the store, and maps domain errors to
// Connect codes.
package api

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/partners/domain"
	"github.com/kinshiphq/kinship/services/partners/events"
	"github.com/kinshiphq/kinship/services/partners/store"
)

// Deps are what every handler of the partners API shares.
type Deps struct {
	Store  *store.Store
	Audit  *audit.Log
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Members checks the member ids a call names (a relationship owner,
	// the organisers of an interaction, a contribution's member); Events
	// checks a contribution's event. Nil refuses such ids rather than take
	// them unchecked.
	Members, Events *service.Refs
}

// base is the part every handler shares.
type base struct {
	store  *store.Store
	audit  *audit.Log
	events events.Factory
	logger *slog.Logger
	now    func() time.Time
	// memberRefs and eventRefs check ids of the members and events
	// services.
	memberRefs, eventRefs *service.Refs
}

func newBase(d Deps) base {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return base{store: d.Store, audit: d.Audit, logger: d.Logger, now: now, memberRefs: d.Members, eventRefs: d.Events}
}

// AsService returns ctx with the partners service itself as the caller,
// for work it does on its own (the agreement sweep), so that what the
// work changes is audited with the service (a workload named
// "partners/<task>") as its actor.
func AsService(ctx context.Context, task string) context.Context {
	return auth.WithPrincipal(ctx, auth.Principal{Kind: auth.KindWorkload, Subject: "partners/" + task, Roles: []auth.Role{auth.Workload}},
		auth.ScopeCommunity)
}

// today is the current UTC day of the handler's clock.
func (b base) today() domain.Date { return domain.DateOf(b.now()) }

// toConnect maps an error to the Connect code a caller can act on.
func (b base) toConnect(ctx context.Context, spec connect.Spec, err error) error {
	var state *domain.StateError
	switch {
	case errors.Is(err, domain.ErrUnknownCommunity):
		return rpc.InvalidArgument(validate.Field("community", "is not a community served here"))
	case errors.Is(err, domain.ErrUnknownPartner):
		return rpc.InvalidArgument(validate.Field("partner_id", "is not a partner of the community"))
	case errors.Is(err, domain.ErrUnknownContact):
		return rpc.InvalidArgument(validate.Field("contact_ids", "names a contact that is not the partner's, or was erased"))
	case errors.Is(err, domain.ErrPartnerNotFound), errors.Is(err, domain.ErrContactNotFound), errors.Is(err, domain.ErrAgreementNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, domain.ErrNameTaken):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, domain.ErrConflict):
		return connect.NewError(connect.CodeAborted, err)
	case errors.Is(err, domain.ErrContactErased), errors.As(err, &state):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, domain.ErrOverflow):
		return connect.NewError(connect.CodeOutOfRange, err)
	}
	return rpc.ToConnect(ctx, b.logger, spec.Procedure, err)
}

// communityOf checks a community slug (the interceptor has filled in the
// caller's when the request named none).
func communityOf(raw string) (string, error) {
	c, ferr := validate.Community(raw)
	if ferr != nil {
		return "", ferr
	}
	return c, nil
}

// required checks an id the call is about.
func required(field, id string) (string, error) {
	v, ferr := domain.ValidateID(field, id, true)
	if ferr != nil {
		return "", ferr
	}
	return v, nil
}

// target checks the community and the id a call is about.
func target(rawCommunity, field, id string) (community, checked string, err error) {
	var errs validate.Errors
	community, cerr := communityOf(rawCommunity)
	errs = append(errs, validate.FieldErrors(cerr)...)
	checked, ierr := required(field, id)
	errs = append(errs, validate.FieldErrors(ierr)...)
	return community, checked, errs.Err()
}

// caller names who is calling, for history and audit columns: a user's
// token subject, an API key's id or a workload's name.
func caller(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok && p.Subject != "" {
		return p.Subject
	}
	return "unknown"
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// optionalDate parses a date filter.
func optionalDate(field, raw string) (domain.Date, error) {
	d, ferr := domain.ParseDate(field, raw)
	if ferr != nil {
		return domain.Date{}, ferr
	}
	return d, nil
}

// dateRange parses from_date and to_date, which must not be reversed.
func dateRange(from, to string) (domain.Date, domain.Date, error) {
	var errs validate.Errors
	f, ferr := domain.ParseDate("from_date", from)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	t, terr := domain.ParseDate("to_date", to)
	if terr != nil {
		errs = append(errs, terr)
	}
	if ferr == nil && terr == nil && !f.IsZero() && !t.IsZero() && t.Before(f) {
		errs = append(errs, validate.Field("to_date", "must not be before from_date"))
	}
	return f, t, errs.Err()
}
