// Package api serves the events service's Connect APIs — EventsService,
// AttendanceService and CalendarService — and its calendar feeds over
// plain HTTP. It validates through the domain, stores through the store,
// and maps domain errors to Connect codes.
package api

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/events/domain"
	published "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/services/events/store"
)

// Options configure a Handler.
type Options struct {
	// Communities are the community slugs served.
	Communities []string
	// PublicURL is the service's address as members reach it, for feed
	// links; empty leaves links relative.
	PublicURL string
	// Now is the clock; nil means time.Now. Use the store's.
	Now func() time.Time
	// Members checks the member ids a call names (organisers, hosts, the
	// member a team member answers for); Partners checks an event's
	// partner. Nil refuses such ids rather than take them unchecked.
	Members, Partners *service.Refs
}

// Handler implements EventsService, AttendanceService and CalendarService.
type Handler struct {
	store       *store.Store
	audit       *audit.Log
	events      published.Factory
	logger      *slog.Logger
	now         func() time.Time
	communities map[string]bool
	publicURL   string
	members     *service.Refs
	partners    *service.Refs
}

var (
	_ eventsv1connect.EventsServiceHandler     = (*Handler)(nil)
	_ eventsv1connect.AttendanceServiceHandler = (*Handler)(nil)
	_ eventsv1connect.CalendarServiceHandler   = (*Handler)(nil)
)

// New returns the events API over s.
func New(s *store.Store, log *audit.Log, logger *slog.Logger, opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Handler{store: s, audit: log, logger: logger, now: opts.Now, communities: map[string]bool{}, publicURL: opts.PublicURL,
		members: opts.Members, partners: opts.Partners}
	for _, c := range opts.Communities {
		h.communities[c] = true
	}
	return h
}

// community validates a community slug and checks it is served here.
func (h *Handler) community(raw string) (string, error) {
	c, ferr := validate.Community(raw)
	if ferr != nil {
		return "", ferr
	}
	if !h.communities[c] {
		return "", domain.ErrUnknownCommunity
	}
	return c, nil
}

// id validates a required id field.
func id(field, raw string) (string, error) {
	v, ferr := domain.ValidateID(field, raw)
	if ferr != nil {
		return "", ferr
	}
	return v, nil
}

// isTeam reports whether the caller organises the community: organisers,
// staff and platform admins.
func isTeam(ctx context.Context) bool {
	p, ok := auth.FromContext(ctx)
	return ok && (p.Has(auth.Organiser) || p.Has(auth.Staff) || p.Has(auth.PlatformAdmin))
}

// isWorkload reports whether the caller is a Kinship component.
func isWorkload(ctx context.Context) bool {
	p, ok := auth.FromContext(ctx)
	return ok && p.Has(auth.Workload)
}

// callerMember is the caller's own member id, if any.
func callerMember(ctx context.Context) string {
	p, _ := auth.FromContext(ctx)
	return p.MemberID
}

// member resolves the member a call is about — the caller when empty —
// after checking the caller may act on them.
func member(ctx context.Context, raw string) (string, error) {
	if raw == "" {
		raw = callerMember(ctx)
	}
	m, err := id("member_id", raw)
	if err != nil {
		return "", err
	}
	if err := auth.RequireTarget(ctx, m); err != nil {
		return "", err
	}
	return m, nil
}

// showURL reports whether the caller sees e's online URL: the organising
// team and Kinship's components do, members only with a seat.
func (h *Handler) showURL(ctx context.Context, e domain.Event) (bool, error) {
	if isTeam(ctx) || isWorkload(ctx) || slices.Contains(e.OrganiserIDs, callerMember(ctx)) || slices.Contains(e.HostIDs, callerMember(ctx)) {
		return true, nil
	}
	m := callerMember(ctx)
	if m == "" || e.OnlineURL == "" {
		return false, nil
	}
	return h.store.HoldsSeat(ctx, e.Community, e.ID, m)
}

// visible loads an event the caller may see: drafts only for the
// organising team.
func (h *Handler) visible(ctx context.Context, rawCommunity, rawID string) (domain.Event, []domain.Occurrence, error) {
	community, err := h.community(rawCommunity)
	if err != nil {
		return domain.Event{}, nil, err
	}
	eventID, err := id("id", rawID)
	if err != nil {
		return domain.Event{}, nil, err
	}
	e, occs, err := h.store.GetEvent(ctx, community, eventID)
	if err != nil {
		return e, nil, err
	}
	if e.Status == domain.StatusDraft && !isTeam(ctx) && !isWorkload(ctx) {
		return e, nil, domain.ErrEventNotFound
	}
	return e, occs, nil
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// AsService returns ctx with the events service itself as the caller, for
// work it does on its own — sweeps, Kafka consumers — so that what the
// work changes is audited with the service (a workload named
// "events/<task>") as its actor.
func AsService(ctx context.Context, task string) context.Context {
	return auth.WithPrincipal(ctx, auth.Principal{Kind: auth.KindWorkload, Subject: "events/" + task, Roles: []auth.Role{auth.Workload}},
		auth.ScopeCommunity)
}

// requireTarget lets the call go on when the caller may act for memberID.
func (h *Handler) requireTarget(ctx context.Context, memberID string) error {
	return auth.RequireTarget(ctx, memberID)
}
