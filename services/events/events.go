// Package events is the events service: a community's gatherings —
// online, offline and hybrid, single or recurring — with race-free
// capacity, a waitlist with time-limited seat offers, check-in, feedback
// and iCalendar feeds. Run serves its Connect API and calendar feeds,
// relays its events to Kafka, consumes member erasures, and sweeps
// time-driven state (expired offers, no-shows, completion).
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/gen/openapi"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/services/events/api"
	published "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/services/events/store"
)

// Config configures the events service.
type Config struct {
	// HTTPAddr is where the API and the calendar feeds listen, such as
	// ":8085".
	HTTPAddr string
	// DatabaseURL is a postgres:// URL or a SQLite file path.
	DatabaseURL  string
	KafkaBrokers []string
	// KafkaSecurity protects every Kafka connection (TLS, SASL); zero
	// means plaintext.
	KafkaSecurity kafka.Security
	// Communities are the community slugs this instance serves.
	Communities []string
	// Auth says which bearer tokens to trust.
	Auth auth.TokenConfig
	// MembersURL is the members API, which verifies API keys and answers
	// whether the member ids a call names (organisers, hosts, the member a
	// team member answers for) are members of the caller's community.
	MembersURL string
	// PartnersURL is the partners API, which answers whether an event's
	// partner_id is a partner of the community; empty refuses partner ids
	// rather than take them unchecked.
	PartnersURL string
	// PublicURL is this service's address as members' calendar apps reach
	// it, for feed links; empty leaves them relative.
	PublicURL string
	// SeatOfferWindow is how long a freed seat is held for the next member
	// on the waitlist; 0 means 24 h.
	SeatOfferWindow time.Duration
	// SweepEvery is how often expired offers, no-shows and completed
	// events are swept; 0 means every minute.
	SweepEvery time.Duration
	// NoShowAfter is how long after an occurrence ends its unchecked seats
	// become no-shows; 0 means 2 h.
	NoShowAfter time.Duration
	// RSVPBatch is the most concurrent RSVPs for one occurrence that share
	// a transaction and its commit (group commit); 0 means 512, and 1 gives
	// every RSVP a transaction of its own.
	RSVPBatch       int
	ShutdownTimeout time.Duration
}

// Validate reports every missing or malformed setting.
func (c Config) Validate() error {
	errs := service.Common{Name: "events", HTTPAddr: c.HTTPAddr, DatabaseURL: c.DatabaseURL, KafkaBrokers: c.KafkaBrokers,
		Communities: c.Communities, Auth: c.Auth}.Check()
	if err := service.CheckHTTPURL("events", "members url", c.MembersURL); err != nil {
		errs = append(errs, err)
	}
	if c.PartnersURL != "" {
		if err := service.CheckHTTPURL("events", "partners url", c.PartnersURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.PublicURL != "" {
		if err := service.CheckHTTPURL("events", "public url", c.PublicURL); err != nil {
			errs = append(errs, err)
		}
	}
	for name, d := range map[string]time.Duration{"seat offer window": c.SeatOfferWindow, "sweep interval": c.SweepEvery, "no-show delay": c.NoShowAfter} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("events: %s %s is negative", name, d))
		}
	}
	return errors.Join(errs...)
}

// Deps are what Run is given rather than builds.
type Deps struct {
	Logger *slog.Logger
	Tracer trace.TracerProvider
	// Credentials are this service's workload tokens, presented to the
	// members service (API keys, member ids) and the partners service
	// (partner ids).
	Credentials auth.TokenSource
	// Meter is optional; nil records no metrics.
	Meter metric.MeterProvider
	// Listener, when set, is served instead of listening on HTTPAddr.
	Listener net.Listener
	// Clock, when set, replaces time.Now (tests move time on with it).
	Clock func() time.Time
}

// Run serves the events API and feeds, relays the outbox, consumes member
// erasures and sweeps time-driven state until ctx ends.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	keys, err := service.MembersKeys("events", cfg.MembersURL, deps.Credentials, deps.Tracer)
	if err != nil {
		return err
	}
	members, err := service.MemberRefs("events", cfg.MembersURL, deps.Credentials, deps.Tracer)
	if err != nil {
		return err
	}
	var partners *service.Refs
	if cfg.PartnersURL != "" {
		if partners, err = partnerRefs(cfg.PartnersURL, deps.Credentials, deps.Tracer); err != nil {
			return err
		}
	}
	clock := deps.Clock
	if clock == nil {
		clock = time.Now
	}
	logger := deps.Logger.With("component", "events")
	rt, err := service.NewRuntime(ctx, service.RuntimeConfig{Name: "events", DatabaseURL: cfg.DatabaseURL,
		Migrations: []db.Migrations{outbox.Migrations(), inbox.Migrations(), audit.Migrations(), store.Migrations()}, KafkaBrokers: cfg.KafkaBrokers, KafkaSecurity: cfg.KafkaSecurity,
		Listener: deps.Listener, HTTPAddr: cfg.HTTPAddr, ShutdownTimeout: cfg.ShutdownTimeout, Logger: logger, Tracer: deps.Tracer, Meter: deps.Meter})
	if err != nil {
		return err
	}
	defer rt.Close()
	d, srv := rt.DB, rt.Server
	log := audit.New(d)
	st := store.New(d, rt.Outbox, published.Factory{}, log, store.Options{Now: clock, OfferWindow: cfg.SeatOfferWindow, AnswerBatch: cfg.RSVPBatch})
	tokens, err := service.Tokens("events", cfg.Auth)
	if err != nil {
		return err
	}
	guard := auth.NewInterceptor(auth.Options{Tokens: tokens, Keys: keys, Policy: api.Policy(), Logger: logger})
	opts := rpc.HandlerOptions(deps.Tracer, logger, guard)
	h := api.New(st, log, logger, api.Options{Communities: cfg.Communities, PublicURL: cfg.PublicURL, Now: clock,
		Members: members, Partners: partners})
	srv.Handle(eventsv1connect.NewEventsServiceHandler(h, opts...))
	srv.Handle(eventsv1connect.NewAttendanceServiceHandler(h, opts...))
	srv.Handle(eventsv1connect.NewCalendarServiceHandler(h, opts...))
	srv.Handle(auditv1connect.NewAuditServiceHandler(audit.NewHandler(log, "events", logger), opts...))
	srv.Handle(openapi.Pattern, openapi.Handler("events"))                                      // the OpenAPI document of these APIs
	srv.Handle(insightsv1connect.NewHistoryServiceHandler(api.NewHistory(st, logger), opts...)) // the insights service's rebuild
	feeds := api.NewFeeds(h, deps.Tracer)
	srv.Handle(api.PublicFeedPattern, feeds.Public())
	srv.Handle(api.MemberFeedPattern, feeds.Member())
	srv.Handle(api.EventICSPattern, feeds.Event())

	sweepEvery := cfg.SweepEvery
	if sweepEvery <= 0 {
		sweepEvery = time.Minute
	}
	return rt.Run(ctx, rt.Consume(cfg.Communities, erasures(st, cfg.Communities, logger)),
		rt.Every(sweepEvery, false, sweep(h, cfg.NoShowAfter, logger)))
}

// partnerRefs checks partner ids through the partners service at url.
func partnerRefs(url string, credentials auth.TokenSource, tp trace.TracerProvider) (*service.Refs, error) {
	hc, opts, err := service.Client("events", credentials, tp)
	if err != nil {
		return nil, err
	}
	partners := partnersv1connect.NewPartnersServiceClient(hc, url, opts...)
	return service.NewRefs("partner", func(ctx context.Context, community, id string) (bool, error) {
		_, err := partners.GetPartner(ctx, connect.NewRequest(&partnersv1.GetPartnerRequest{Community: community, Id: id}))
		return service.Owned(err)
	}), nil
}
