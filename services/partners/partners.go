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
	"net/url"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/telemetry"
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
	var errs []error
	if c.HTTPAddr == "" {
		errs = append(errs, errors.New("partners: http address is empty"))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("partners: database url is empty"))
	}
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("partners: no kafka brokers"))
	}
	if len(c.Communities) == 0 {
		errs = append(errs, errors.New("partners: no communities"))
	}
	for _, slug := range c.Communities {
		if _, ferr := domain.ValidateCommunity(slug); ferr != nil {
			errs = append(errs, fmt.Errorf("partners: community %q %s", slug, ferr.Reason))
		}
	}
	if err := c.Auth.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("partners: %w", err))
	}
	if c.MembersURL != "" {
		if u, err := url.Parse(c.MembersURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("partners: members url %q is not an http(s) URL", c.MembersURL))
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
	if cfg.MembersURL != "" && deps.Credentials == nil {
		return errors.New("partners: a members url needs workload credentials")
	}
	thresholds, _ := cfg.thresholds()
	logger := deps.Logger.With("component", "partners")
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("partners: %w", err)
	}
	defer d.Close()
	if err := db.Migrate(ctx, d, logger, outbox.Migrations(), audit.Migrations(), store.Migrations()); err != nil {
		return fmt.Errorf("partners: %w", err)
	}
	ob := outbox.New(d, telemetry.Propagator())
	st := store.New(d, ob)
	if err := st.EnsureCommunities(ctx, cfg.Communities...); err != nil {
		return fmt.Errorf("partners: %w", err)
	}
	writer := kafka.NewWriter(kafka.WriterConfig{Brokers: cfg.KafkaBrokers, Security: cfg.KafkaSecurity})
	defer writer.Close()

	ln, err := serve.Listen(deps.Listener, cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("partners: %w", err)
	}
	srv := serve.New(serve.Options{
		Logger:          logger,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Checks:          map[string]serve.Check{"database": d.PingContext},
	})
	tokens, err := auth.NewTokenVerifier(cfg.Auth, rpc.HTTPClient(10*time.Second))
	if err != nil {
		return fmt.Errorf("partners: %w", err)
	}
	var keys auth.APIKeyVerifier
	if cfg.MembersURL != "" {
		access := membersv1connect.NewAccessServiceClient(rpc.HTTPClient(10*time.Second), cfg.MembersURL,
			rpc.ClientOptions(deps.Tracer, auth.NewClientInterceptor(deps.Credentials))...)
		keys = auth.NewRemoteKeys(access)
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
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, ln) })
	g.Go(func() error {
		return ob.Run(gctx, outbox.RelayConfig{Writer: writer, Tracer: deps.Tracer, Meter: deps.Meter, Logger: logger})
	})
	g.Go(func() error { return sweepAgreements(gctx, cfg.Communities, every, sweeper, logger) })
	return g.Wait()
}

// sweepAgreements sweeps every community at once and then every interval,
// until ctx ends. A failed sweep is logged and retried at the next tick.
func sweepAgreements(ctx context.Context, communities []string, every time.Duration, sweeper *api.Sweeper, logger *slog.Logger) error {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		for _, community := range communities {
			if _, err := sweeper.Sweep(ctx, community); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				logger.WarnContext(ctx, "agreement sweep failed", "community", community, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}
