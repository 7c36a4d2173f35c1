// Package members is the members service: the community's memory of its
// people. Run serves its Connect API and relays its events to Kafka.
package members

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/gen/openapi"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/services/members/api"
	"github.com/kinshiphq/kinship/services/members/events"
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
	// Limits bound public endpoints such as JoinCommunity, per client
	// address (read from X-Forwarded-For only behind Limits.TrustedProxies)
	// and per credential; zero values take the defaults.
	Limits auth.Limits
	// LevelReviewEvery is how often downgrades apply; 0 means daily.
	LevelReviewEvery time.Duration
	// JoinBatch is the most concurrent joins that share a transaction and
	// its commit (group commit); 0 means 64, and 1 gives every join a
	// transaction of its own.
	JoinBatch       int
	ShutdownTimeout time.Duration
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
	// Now is the clock the activity sources' webhooks read (their replay
	// windows); nil means time.Now. Tests pass a fake clock.
	Now func() time.Time
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
	st := store.New(d, rt.Outbox).WithLevelEvents(events.Factory{}).WithJoinBatch(cfg.JoinBatch)
	if err := st.EnsureCommunities(ctx, cfg.Communities...); err != nil {
		return fmt.Errorf("members: %w", err)
	}
	if n, err := st.IndexSearchTerms(ctx); err != nil {
		return fmt.Errorf("members: %w", err)
	} else if n > 0 {
		logger.InfoContext(ctx, "indexed members for search", "members", n)
	}
	tokens, err := service.Tokens("members", cfg.Auth)
	if err != nil {
		return err
	}
	log := audit.New(d)
	guard := auth.NewInterceptor(auth.Options{Tokens: tokens, Keys: api.Keys(st, log), Policy: api.Policy(), Limits: cfg.Limits, Logger: logger})
	for _, r := range routes(st, log, logger, deps.Now, rpc.HandlerOptions(deps.Tracer, logger, guard)) {
		srv.Handle(r.pattern, r.handler)
	}
	// The activity sources' webhooks: signed, not credentialed.
	srv.Handle(api.IngestPattern, api.NewIngest(st, log, logger, cfg.Communities, deps.Now))
	// The OpenAPI document of the JSON form of these APIs.
	srv.Handle(openapi.Pattern, openapi.Handler("members"))

	every := cfg.LevelReviewEvery
	if every <= 0 {
		every = 24 * time.Hour
	}
	work := []func(context.Context) error{rt.Every(every, false, reviewLevels(cfg.Communities, st, logger)),
		rt.Every(time.Hour, true, pruneIntegrations(st, logger))}
	for _, f := range feeds(st) {
		work = append(work, rt.Consume(cfg.Communities, f))
	}
	return rt.Run(ctx, work...)
}

// route is one API the service serves.
type route struct {
	pattern string
	handler http.Handler
}

// routes are the members service's Connect APIs over st, auditing to log,
// reading time from now (nil means time.Now), each built with opts (the
// guard among them).
func routes(st *store.Store, log *audit.Log, logger *slog.Logger, now func() time.Time, opts []connect.HandlerOption) []route {
	var out []route
	add := func(pattern string, h http.Handler) { out = append(out, route{pattern, h}) }
	add(membersv1connect.NewMembersServiceHandler(api.New(st, log, logger), opts...))
	add(membersv1connect.NewSegmentsServiceHandler(api.NewSegments(st, log, logger), opts...))
	add(membersv1connect.NewEngagementServiceHandler(api.NewEngagement(st, log, logger), opts...))
	add(membersv1connect.NewAccessServiceHandler(api.NewAccess(st, log, logger), opts...))
	add(membersv1connect.NewIntegrationsServiceHandler(api.NewIntegrations(st, log, logger, now), opts...))
	add(membersv1connect.NewReferralsServiceHandler(api.NewReferrals(st, log, logger), opts...))
	// The service's own audit log, as every service serves it.
	add(auditv1connect.NewAuditServiceHandler(audit.NewHandler(log, "members", logger), opts...))
	add(insightsv1connect.NewHistoryServiceHandler(api.NewHistory(st, logger), opts...)) // the insights service's rebuild
	return out
}
