package workflows

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"

	"github.com/kinshiphq/kinship/internal/telemetry"
)

// dialNamespaces opens one client per community namespace over a single
// connection, traced — so workflow and activity spans join the trace of
// whoever started or signalled them — measured (the SDK's metrics go to
// the worker's meter provider) and logging through slog.
func dialNamespaces(ctx context.Context, cfg Config, tp trace.TracerProvider, logger *slog.Logger) (map[string]client.Client, error) {
	tracing, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:            tp.Tracer("github.com/kinshiphq/kinship/workflows"),
		TextMapPropagator: telemetry.Propagator(),
	})
	if err != nil {
		return nil, fmt.Errorf("worker: temporal tracing: %w", err)
	}
	metrics := temporalMetrics(telemetry.MeterProviderOf(tp), logger)
	options := func(namespace string) client.Options {
		return client.Options{
			HostPort:       cfg.TemporalAddress,
			Namespace:      namespace,
			Logger:         tlog.NewStructuredLogger(slog.New(expectedRetries{logger.Handler()})),
			Interceptors:   []interceptor.ClientInterceptor{tracing},
			MetricsHandler: metrics,
			// Clients of further namespaces share the first one's
			// connection, and so its TLS.
			ConnectionOptions: client.ConnectionOptions{TLS: cfg.TemporalTLS},
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
