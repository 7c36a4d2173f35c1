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

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
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
	// MembersURL, when set, is the members API, which verifies the API keys
	// presented here (with Deps.Credentials); without it API keys are
	// refused and only tokens are accepted.
	MembersURL string
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
	if c.MembersURL != "" {
		if err := service.CheckHTTPURL("partners", "members url", c.MembersURL); err != nil {
			errs = append(errs, err)
		}
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
	// members service when verifying API keys; required with MembersURL.
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
	var keys auth.APIKeyVerifier
	if cfg.MembersURL != "" {
		var err error
		if keys, err = service.MembersKeys("partners", cfg.MembersURL, deps.Credentials, deps.Tracer); err != nil {
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
	st := store.New(d, rt.Outbox)
	if err := st.EnsureCommunities(ctx, cfg.Communities...); err != nil {
		return fmt.Errorf("partners: %w", err)
	}
	tokens, err := service.Tokens("partners", cfg.Auth)
	if err != nil {
		return err
	}
	guard := auth.NewInterceptor(auth.Options{Tokens: tokens, Keys: keys, Policy: api.Policy(), Logger: logger})
	opts := rpc.HandlerOptions(deps.Tracer, logger, guard)
	apiDeps := api.Deps{Store: st, Audit: audit.New(d), Logger: logger, Now: deps.Now}
	sweeper := api.NewSweeper(st, thresholds, deps.Now, logger)
	srv.Handle(partnersv1connect.NewPartnersServiceHandler(api.NewPartners(apiDeps), opts...))
	srv.Handle(partnersv1connect.NewContactsServiceHandler(api.NewContacts(apiDeps), opts...))
	srv.Handle(partnersv1connect.NewAgreementsServiceHandler(api.NewAgreements(apiDeps, sweeper), opts...))
	srv.Handle(partnersv1connect.NewContributionsServiceHandler(api.NewContributions(apiDeps), opts...))
	srv.Handle(partnersv1connect.NewReportsServiceHandler(api.NewReports(apiDeps), opts...))

	every := cfg.SweepEvery
	if every <= 0 {
		every = 24 * time.Hour
	}
	return rt.Run(ctx, rt.Every(every, true, sweepAgreements(cfg.Communities, sweeper, logger)))
}
