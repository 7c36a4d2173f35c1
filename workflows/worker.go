// Package workflows runs Kinship's Temporal worker: it registers every
// workflow and activity in each community's namespace, and runs the Kafka
// trigger that starts journeys from member events.
package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// Config configures the worker.
type Config struct {
	// HTTPAddr serves /healthz and /readyz, such as ":8083".
	HTTPAddr string
	// TemporalAddress is the Temporal frontend, such as "temporal:7233".
	TemporalAddress string
	// Communities are served; each community is a Temporal namespace.
	Communities       []string
	KafkaBrokers      []string
	MembersURL        string
	CommunicationsURL string
	// Onboarding tunes the onboarding journeys the trigger starts.
	OnboardingReminderAfter time.Duration
	OnboardingGiveUpAfter   time.Duration
	ShutdownTimeout         time.Duration
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
	for name, raw := range map[string]string{"members url": c.MembersURL, "communications url": c.CommunicationsURL} {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("worker: %s %q is not an http(s) URL", name, raw))
		}
	}
	if c.OnboardingReminderAfter < 0 || c.OnboardingGiveUpAfter < 0 {
		errs = append(errs, errors.New("worker: onboarding durations must not be negative"))
	}
	return errors.Join(errs...)
}

// Deps are what Run is given rather than builds.
type Deps struct {
	Logger *slog.Logger
	Tracer trace.TracerProvider
	// Credentials are the worker's workload tokens, presented to the
	// services its activities call.
	Credentials auth.TokenSource
	// Listener, when set, is served instead of listening on HTTPAddr.
	Listener net.Listener
}

// Run runs the workers and the trigger until ctx ends.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if deps.Credentials == nil {
		return errors.New("worker: no workload credentials")
	}
	logger := deps.Logger.With("component", "worker")
	clients, err := dialNamespaces(ctx, cfg, deps.Tracer, logger)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()

	httpClient := rpc.HTTPClient(30 * time.Second)
	clientOpts := rpc.ClientOptions(deps.Tracer, auth.NewClientInterceptor(deps.Credentials))
	acts := &onboarding.Activities{
		Members:        membersv1connect.NewMembersServiceClient(httpClient, cfg.MembersURL, clientOpts...),
		Communications: communicationsv1connect.NewCommunicationsServiceClient(httpClient, cfg.CommunicationsURL, clientOpts...),
	}
	var workers []worker.Worker
	for _, community := range cfg.Communities {
		w := worker.New(clients[community], onboarding.TaskQueue, worker.Options{})
		onboarding.Register(w, acts)
		if err := w.Start(); err != nil {
			stopAll(workers)
			return fmt.Errorf("worker: start onboarding worker for %s: %w", community, err)
		}
		workers = append(workers, w)
	}
	defer stopAll(workers)

	trig, err := newTrigger(cfg, clients, deps.Tracer, logger)
	if err != nil {
		return err
	}
	ln, err := serve.Listen(deps.Listener, cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	srv := serve.New(serve.Options{Logger: logger, ShutdownTimeout: cfg.ShutdownTimeout, Checks: map[string]serve.Check{
		"temporal": func(ctx context.Context) error {
			_, err := clients[cfg.Communities[0]].CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		},
	}})
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, ln) })
	g.Go(func() error { return trig.run(gctx) })
	return g.Wait()
}

// dialNamespaces opens one client per community namespace over a single
// connection, traced and logging through slog.
func dialNamespaces(ctx context.Context, cfg Config, tp trace.TracerProvider, logger *slog.Logger) (map[string]client.Client, error) {
	tracing, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:            tp.Tracer("github.com/kinshiphq/kinship/workflows"),
		TextMapPropagator: telemetry.Propagator(),
	})
	if err != nil {
		return nil, fmt.Errorf("worker: temporal tracing: %w", err)
	}
	options := func(namespace string) client.Options {
		return client.Options{
			HostPort:     cfg.TemporalAddress,
			Namespace:    namespace,
			Logger:       tlog.NewStructuredLogger(logger),
			Interceptors: []interceptor.ClientInterceptor{tracing},
		}
	}
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	first, err := client.DialContext(dialCtx, options(cfg.Communities[0]))
	if err != nil {
		return nil, fmt.Errorf("worker: connect to temporal at %s: %w", cfg.TemporalAddress, err)
	}
	clients := map[string]client.Client{cfg.Communities[0]: first}
	for _, community := range cfg.Communities[1:] {
		c, err := client.NewClientFromExistingWithContext(dialCtx, first, options(community))
		if err != nil {
			for _, open := range clients {
				open.Close()
			}
			return nil, fmt.Errorf("worker: temporal namespace %s: %w", community, err)
		}
		clients[community] = c
	}
	return clients, nil
}

func stopAll(workers []worker.Worker) {
	for _, w := range workers {
		w.Stop()
	}
}
