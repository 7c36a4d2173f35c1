// Package partners is the partners service: the community's partner
// organisations and their pipeline, the stakeholder map, contacts,
// agreements with their renewals, contributions and the interaction log.
// Run serves its Connect APIs, relays its events to Kafka and runs the
// daily agreement sweep.
package partners

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
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/gen/openapi"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/services/partners/api"
	"github.com/kinshiphq/kinship/services/partners/domain"
	"github.com/kinshiphq/kinship/services/partners/store"
)

// Config configures the partners service.
type Config struct {
	// HTTPAddr is where the API listens, such as ":8085".
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
	// MembersURL is the members API, asked with Deps.Credentials: it
	// verifies the API keys presented here and answers whether the member
	// ids a call names (a relationship owner, an interaction's organisers,
	// a contribution's member) are members of the caller's community.
	MembersURL string
	// EventsURL is the events API, which answers whether a contribution's
	// event_id is an event of the community; empty refuses event ids
	// rather than take them unchecked.
	EventsURL string
	// CommunicationsURL is the communications API, through which the
	// attention list's reminders reach relationship owners and organisers
	// by e-mail (as this workload); empty keeps the list without e-mail.
	CommunicationsURL string
	// AttentionEscalateAfter is how long an attention item waits for its
	// owner to acknowledge or resolve it before the organisers are told;
	// 0 means 3 days.
	AttentionEscalateAfter time.Duration
	// ExpiryThresholdDays are how many days before an agreement's end
	// AgreementExpiring is published; empty means 30 and 7.
	ExpiryThresholdDays []int
	// SweepEvery is how often the agreement sweep runs (it also runs at
	// start); 0 means daily.
	SweepEvery      time.Duration
	ShutdownTimeout time.Duration
}

// Validate reports every missing or malformed setting.
func (c Config) Validate() error {
	errs := service.Common{Name: "partners", HTTPAddr: c.HTTPAddr, DatabaseURL: c.DatabaseURL, KafkaBrokers: c.KafkaBrokers,
		Communities: c.Communities, Auth: c.Auth}.Check()
	if err := service.CheckHTTPURL("partners", "members url", c.MembersURL); err != nil {
		errs = append(errs, err)
	}
	if c.EventsURL != "" {
		if err := service.CheckHTTPURL("partners", "events url", c.EventsURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.CommunicationsURL != "" {
		if err := service.CheckHTTPURL("partners", "communications url", c.CommunicationsURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.AttentionEscalateAfter < 0 {
		errs = append(errs, errors.New("partners: attention escalation delay is negative"))
	}
	if _, err := c.thresholds(); err != nil {
		errs = append(errs, fmt.Errorf("partners: %w", err))
	}
	if c.SweepEvery < 0 {
		errs = append(errs, errors.New("partners: sweep interval is negative"))
	}
	return errors.Join(errs...)
}

// thresholds are the configured expiry thresholds, or the defaults.
func (c Config) thresholds() ([]int, error) {
	if len(c.ExpiryThresholdDays) == 0 {
		return domain.ValidateThresholds(domain.DefaultExpiryThresholds())
	}
	return domain.ValidateThresholds(c.ExpiryThresholdDays)
}

// Deps are what Run is given rather than builds.
type Deps struct {
	Logger *slog.Logger
	Tracer trace.TracerProvider
	// Meter is optional; nil records no metrics.
	Meter metric.MeterProvider
	// Listener, when set, is served instead of listening on HTTPAddr.
	Listener net.Listener
	// Credentials are this service's workload tokens, presented to the
	// members service (API keys, member ids) and the events service (event
	// ids).
	Credentials auth.TokenSource
	// Now is the clock the API and the sweep read the day from; nil means
	// time.Now. Tests pass a fake clock.
	Now func() time.Time
}

// Run serves the partners APIs, relays the outbox and sweeps agreements
// until ctx ends.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	keys, err := service.MembersKeys("partners", cfg.MembersURL, deps.Credentials, deps.Tracer)
	if err != nil {
		return err
	}
	members, err := service.MemberRefs("partners", cfg.MembersURL, deps.Credentials, deps.Tracer)
	if err != nil {
		return err
	}
	var eventRefs *service.Refs
	if cfg.EventsURL != "" {
		if eventRefs, err = eventsRefs(cfg.EventsURL, deps.Credentials, deps.Tracer); err != nil {
			return err
		}
	}
	thresholds, _ := cfg.thresholds()
	logger := deps.Logger.With("component", "partners")
	rt, err := service.NewRuntime(ctx, service.RuntimeConfig{Name: "partners", DatabaseURL: cfg.DatabaseURL,
		Migrations: []db.Migrations{outbox.Migrations(), audit.Migrations(), store.Migrations()}, KafkaBrokers: cfg.KafkaBrokers, KafkaSecurity: cfg.KafkaSecurity,
		Listener: deps.Listener, HTTPAddr: cfg.HTTPAddr, ShutdownTimeout: cfg.ShutdownTimeout, Logger: logger, Tracer: deps.Tracer, Meter: deps.Meter})
	if err != nil {
		return err
	}
	defer rt.Close()
	d, srv := rt.DB, rt.Server
	log := audit.New(d)
	st := store.New(d, rt.Outbox, log)
	if err := st.EnsureCommunities(ctx, cfg.Communities...); err != nil {
		return fmt.Errorf("partners: %w", err)
	}
	tokens, err := service.Tokens("partners", cfg.Auth)
	if err != nil {
		return err
	}
	guard := auth.NewInterceptor(auth.Options{Tokens: tokens, Keys: keys, Policy: api.Policy(), Logger: logger})
	opts := rpc.HandlerOptions(deps.Tracer, logger, guard)
	apiDeps := api.Deps{Store: st, Audit: log, Logger: logger, Now: deps.Now, Members: members, Events: eventRefs}
	sweeper := api.NewSweeper(st, thresholds, deps.Now, logger)
	if cfg.CommunicationsURL != "" {
		notifier, err := newMailNotifier(st, cfg.CommunicationsURL, cfg.MembersURL, deps.Credentials, deps.Tracer)
		if err != nil {
			return err
		}
		sweeper.WithAttention(notifier, cfg.AttentionEscalateAfter)
	}
	srv.Handle(partnersv1connect.NewPartnersServiceHandler(api.NewPartners(apiDeps), opts...))
	srv.Handle(partnersv1connect.NewContactsServiceHandler(api.NewContacts(apiDeps), opts...))
	srv.Handle(partnersv1connect.NewAgreementsServiceHandler(api.NewAgreements(apiDeps, sweeper), opts...))
	srv.Handle(partnersv1connect.NewContributionsServiceHandler(api.NewContributions(apiDeps), opts...))
	srv.Handle(partnersv1connect.NewReportsServiceHandler(api.NewReports(apiDeps), opts...))
	srv.Handle(partnersv1connect.NewAttentionServiceHandler(api.NewAttention(apiDeps, cfg.AttentionEscalateAfter), opts...))
	srv.Handle(auditv1connect.NewAuditServiceHandler(audit.NewHandler(log, "partners", logger), opts...))
	srv.Handle(openapi.Pattern, openapi.Handler("partners"))                                    // the OpenAPI document of these APIs
	srv.Handle(insightsv1connect.NewHistoryServiceHandler(api.NewHistory(st, logger), opts...)) // the insights service's rebuild

	every := cfg.SweepEvery
	if every <= 0 {
		every = 24 * time.Hour
	}
	return rt.Run(ctx, rt.Every(every, true, sweepAgreements(cfg.Communities, sweeper, logger)))
}

// eventsRefs checks event ids through the events service at url.
func eventsRefs(url string, credentials auth.TokenSource, tp trace.TracerProvider) (*service.Refs, error) {
	hc, opts, err := service.Client("partners", credentials, tp)
	if err != nil {
		return nil, err
	}
	events := eventsv1connect.NewEventsServiceClient(hc, url, opts...)
	return service.NewRefs("event", func(ctx context.Context, community, id string) (bool, error) {
		_, err := events.GetEvent(ctx, connect.NewRequest(&eventsv1.GetEventRequest{Community: community, Id: id}))
		return service.Owned(err)
	}), nil
}
