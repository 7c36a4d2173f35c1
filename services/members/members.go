// Package members is the members service: the community's memory of its
// people. Run serves its Connect API and relays its events to Kafka.
package members

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/services/members/api"
	"github.com/kinshiphq/kinship/services/members/store"
)

// Config configures the members service.
type Config struct {
	// HTTPAddr is where the API listens, such as ":8081".
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
	// Limits bound public endpoints such as JoinCommunity; zero values
	// take the defaults.
	Limits auth.Limits
	// LevelReviewEvery is how often downgrades apply; 0 means daily.
	LevelReviewEvery time.Duration
	ShutdownTimeout  time.Duration
}

// Validate reports every missing or malformed setting.
func (c Config) Validate() error {
	errs := service.Common{Name: "members", HTTPAddr: c.HTTPAddr, DatabaseURL: c.DatabaseURL, KafkaBrokers: c.KafkaBrokers,
		Communities: c.Communities, Auth: c.Auth}.Check()
	return errors.Join(errs...)
}

// Deps are what Run is given rather than builds.
type Deps struct {
	Logger *slog.Logger
	Tracer trace.TracerProvider
	// Meter is optional; nil records no metrics.
	Meter metric.MeterProvider
	// Listener, when set, is served instead of listening on HTTPAddr.
	Listener net.Listener
}

// Run serves the members API and relays its outbox until ctx ends.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := deps.Logger.With("component", "members")
	rt, err := service.NewRuntime(ctx, service.RuntimeConfig{Name: "members", DatabaseURL: cfg.DatabaseURL,
		Migrations: []db.Migrations{outbox.Migrations(), audit.Migrations(), store.Migrations()}, KafkaBrokers: cfg.KafkaBrokers, KafkaSecurity: cfg.KafkaSecurity,
		Listener: deps.Listener, HTTPAddr: cfg.HTTPAddr, ShutdownTimeout: cfg.ShutdownTimeout, Logger: logger, Tracer: deps.Tracer, Meter: deps.Meter})
	if err != nil {
		return err
	}
	defer rt.Close()
	d, srv := rt.DB, rt.Server
	st := store.New(d, rt.Outbox)
	if err := st.EnsureCommunities(ctx, cfg.Communities...); err != nil {
		return fmt.Errorf("members: %w", err)
	}
	tokens, err := service.Tokens("members", cfg.Auth)
	if err != nil {
		return err
	}
	guard := auth.NewInterceptor(auth.Options{Tokens: tokens, Keys: st, Policy: api.Policy(), Limits: cfg.Limits, Logger: logger})
	opts := rpc.HandlerOptions(deps.Tracer, logger, guard)
	log := audit.New(d)
	srv.Handle(membersv1connect.NewMembersServiceHandler(api.New(st, log, logger), opts...))
	srv.Handle(membersv1connect.NewSegmentsServiceHandler(api.NewSegments(st, logger), opts...))
	srv.Handle(membersv1connect.NewEngagementServiceHandler(api.NewEngagement(st, log, logger), opts...))
	srv.Handle(membersv1connect.NewAccessServiceHandler(api.NewAccess(st, log, logger), opts...))

	every := cfg.LevelReviewEvery
	if every <= 0 {
		every = 24 * time.Hour
	}
	work := []func(context.Context) error{rt.Every(every, false, reviewLevels(cfg.Communities, st, logger))}
	for _, f := range feeds(st) {
		work = append(work, rt.Consume(cfg.Communities, f))
	}
	return rt.Run(ctx, work...)
}
