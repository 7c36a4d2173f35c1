// Package workflows runs Kinship's Temporal worker: it registers every
// workflow and activity in each community's namespace, runs the Kafka
// trigger that starts and steers journeys from the services' events, and
// serves the journeys API.
package workflows

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/definitions"
	"github.com/kinshiphq/kinship/workflows/digest"
	"github.com/kinshiphq/kinship/workflows/eventlifecycle"
)

// Config configures the worker.
type Config struct {
	// HTTPAddr serves the journeys API, /healthz and /readyz, such as
	// ":8083".
	HTTPAddr string
	// DatabaseURL is the worker's own database (a postgres:// URL or an
	// SQLite file): every version of the communities' journey definitions
	// and ambassador programmes, and the audit log of what organisers
	// change and steer.
	DatabaseURL string
	// TemporalAddress is the Temporal frontend, such as "temporal:7233".
	TemporalAddress string
	// TemporalTLS, when set, secures the connection to Temporal; a client
	// certificate in it is presented for mutual TLS.
	TemporalTLS *tls.Config
	// Communities are served; each community is a Temporal namespace.
	Communities  []string
	KafkaBrokers []string
	// KafkaSecurity protects every Kafka connection (TLS, SASL); zero
	// means plaintext.
	KafkaSecurity     kafka.Security
	MembersURL        string
	CommunicationsURL string
	// EventsURL is the events API: event lifecycles and journeys that
	// suggest events call it.
	EventsURL string
	// PartnersURL is the partners API, which erasures reach.
	PartnersURL string
	// InsightsURL is the insights API, which subject-access exports read
	// a member's data from; empty leaves it out of the archive.
	InsightsURL string
	// EventLifecycle tunes event reminders, feedback requests and no-show
	// marking; zero means the defaults.
	EventLifecycle eventlifecycle.Settings
	// Digest is each community's weekly digest schedule; zero means
	// digest.DefaultSettings (Monday 09:00 UTC).
	Digest digest.Settings
	// Auth says which bearer tokens the journeys API trusts; API keys are
	// verified with the members service.
	Auth auth.TokenConfig
	// Journeys seed communities' journey definitions, by community slug
	// or "*" (see ParseJourneys): a seed that changed since the last start
	// becomes the community's current version; organisers' own versions
	// stand otherwise.
	Journeys map[string]Journeys
	// OnboardingReminderAfter and OnboardingGiveUpAfter seed the default
	// onboarding journey of communities the journeys do not name: its
	// first profile reminder (the second follows at 2.5 times it) and how
	// long it waits for the profile.
	OnboardingReminderAfter time.Duration
	OnboardingGiveUpAfter   time.Duration
	// OnboardImported starts journeys for members who arrived in an
	// import too; by default organisers start those as a cohort.
	OnboardImported bool
	// StartConcurrency is how many journeys a cohort start starts at
	// once; 0 means 16.
	StartConcurrency int
	// TriggerConcurrency is how many members' events the trigger handles
	// at once (each member's in order; see kafka.ConsumerConfig.Lanes);
	// 0 means 16.
	TriggerConcurrency int
	// WorkflowCache is how many workflow executions the process keeps in
	// memory between their tasks (Temporal's sticky cache, shared by every
	// worker of the process); 0 means 500. Journeys wait days between
	// steps, so keeping each one costs memory for little: an evicted one
	// is replayed from its (short) history when its next task comes.
	WorkflowCache int
	// TemporalUI is the Temporal Web UI's base URL, such as
	// "https://temporal.example.org": the journeys API links each journey
	// to its workflow there. Empty gives no links.
	TemporalUI      string
	ShutdownTimeout time.Duration
}

// Validate reports every missing or malformed setting.
func (c Config) Validate() error {
	var errs []error
	if c.HTTPAddr == "" {
		errs = append(errs, errors.New("worker: http address is empty"))
	}
	if c.TemporalAddress == "" {
		errs = append(errs, errors.New("worker: temporal address is empty"))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("worker: database url is empty"))
	}
	if len(c.Communities) == 0 {
		errs = append(errs, errors.New("worker: no communities"))
	}
	for _, slug := range c.Communities {
		if _, ferr := validate.Slug("community", slug, 63); ferr != nil {
			errs = append(errs, fmt.Errorf("worker: community %q %s", slug, ferr.Reason))
		}
	}
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("worker: no kafka brokers"))
	}
	urls := []struct{ name, raw string }{{"members url", c.MembersURL}, {"communications url", c.CommunicationsURL},
		{"events url", c.EventsURL}, {"partners url", c.PartnersURL}}
	for _, u := range urls {
		if err := service.CheckHTTPURL("worker", u.name, u.raw); err != nil {
			errs = append(errs, err)
		}
	}
	if c.InsightsURL != "" {
		if err := service.CheckHTTPURL("worker", "insights url", c.InsightsURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.TemporalUI != "" {
		if err := service.CheckHTTPURL("worker", "temporal ui url", c.TemporalUI); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.Auth.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("worker: %w", err))
	}
	if c.OnboardingReminderAfter < 0 || c.OnboardingGiveUpAfter < 0 {
		errs = append(errs, errors.New("worker: onboarding durations must not be negative"))
	}
	if c.StartConcurrency < 0 || c.StartConcurrency > 256 {
		errs = append(errs, errors.New("worker: start concurrency must be between 0 and 256"))
	}
	if c.WorkflowCache < 0 {
		errs = append(errs, errors.New("worker: workflow cache must not be negative"))
	}
	if c.TriggerConcurrency < 0 || c.TriggerConcurrency > 256 {
		errs = append(errs, errors.New("worker: trigger concurrency must be between 0 and 256"))
	}
	errs = append(errs, validateJourneys(c)...)
	if err := c.EventLifecycle.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("worker: event lifecycle: %w", err))
	}
	if err := c.Digest.Validate(); c.Digest != (digest.Settings{}) && err != nil {
		errs = append(errs, fmt.Errorf("worker: digest: %w", err))
	}
	return errors.Join(errs...)
}

// Deps are what Run is given rather than builds.
type Deps struct {
	Logger *slog.Logger
	Tracer trace.TracerProvider
	// Credentials are the worker's workload tokens, presented to the
	// services its activities and the journeys API call.
	Credentials auth.TokenSource
	// Listener, when set, is served instead of listening on HTTPAddr.
	Listener net.Listener
}

// defaultWorkflowCache is Config.WorkflowCache's default.
const defaultWorkflowCache = 500

// Run runs the workers, the trigger and the journeys API until ctx ends.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if deps.Credentials == nil {
		return errors.New("worker: no workload credentials")
	}
	logger := deps.Logger.With("component", "worker")
	database, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer database.Close()
	// The worker's metrics, Temporal's SDK's included, are served on its
	// HTTP port and pushed with the process's telemetry.
	meter := telemetry.MeterProviderOf(deps.Tracer)
	if err := database.Instrument(meter, "worker"); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if err := db.Migrate(ctx, database, logger, audit.Migrations(), definitions.Migrations()); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	auditLog := audit.New(database)
	store := definitions.New(database, auditLog)
	if err := seed(ctx, store, cfg); err != nil {
		return err
	}
	clients, err := dialNamespaces(ctx, cfg, deps.Tracer, logger)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	countCtx, stopCounting := context.WithCancel(ctx)
	journeys, counting, err := observeJourneys(countCtx, meter, clients, logger)
	if err != nil {
		stopCounting()
		return err
	}
	defer func() { // before the clients close: defers run in reverse
		stopCounting()
		<-counting
		_ = journeys.Unregister()
	}()
	for _, community := range cfg.Communities {
		if err := digest.EnsureSchedules(ctx, clients[community], community, cfg.Digest); err != nil {
			return fmt.Errorf("worker: %w", err)
		}
	}
	svc := newServiceClients(cfg, deps)
	worker.SetStickyWorkflowCacheSize(cmp.Or(cfg.WorkflowCache, defaultWorkflowCache))
	workers, err := startWorkers(cfg, clients, svc, store)
	if err != nil {
		return err
	}
	defer stopAll(workers)

	trig, err := newTrigger(cfg, clients, store, deps.Tracer, logger)
	if err != nil {
		return err
	}
	ln, err := serve.Listen(deps.Listener, cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	srv := serve.New(serve.Options{Logger: logger, ShutdownTimeout: cfg.ShutdownTimeout, Meter: meter, Checks: map[string]serve.Check{
		"temporal": func(ctx context.Context) error {
			_, err := clients[cfg.Communities[0]].CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		},
		"database": func(ctx context.Context) error { return database.PingContext(ctx) },
	}})
	if err := mountJourneysAPI(srv, cfg, clients, svc, store, auditLog, deps, logger); err != nil {
		return err
	}
	if err := mountSubjectAccess(srv, cfg, clients, svc, auditLog, deps, logger); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, ln) })
	g.Go(func() error { return trig.run(gctx) })
	return g.Wait()
}

func stopAll(workers []worker.Worker) {
	for _, w := range workers {
		w.Stop()
	}
}
