// Package telemetry builds the OpenTelemetry tracer and meter providers each
// Kinship component uses — spans to an OTLP collector and to any extra span
// processor (the dev stack's trace store), metrics over OTLP and as
// Prometheus text on the component's own HTTP port — the catalogue of every
// metric with the constructors of its instruments, and the slog handler
// that stamps every log record with the current trace, span and community.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Config says where telemetry goes.
type Config struct {
	// OTLPEndpoint is the OTLP/gRPC collector endpoint, such as
	// "http://otel-collector:4317". Empty means spans are only handed to
	// Processors (traces and ids still exist, so logs carry trace ids) and
	// metrics are only scraped.
	OTLPEndpoint string
	// Version is the build version recorded on the resource.
	Version string
	// Processors receive every span as well, for example a test's
	// tracetest.SpanRecorder.
	Processors []sdktrace.SpanProcessor
	// MetricInterval is how often metrics are pushed over OTLP; 0 means 30 s.
	MetricInterval time.Duration
}

// Telemetry holds the span and metric pipelines shared by every component
// of a process. Each component gets its own providers from it, so its
// spans and metrics carry its own service.name while all of them go to the
// same exporters.
type Telemetry struct {
	cfg     Config
	metrics sdkmetric.Exporter

	mu         sync.Mutex
	processors []sdktrace.SpanProcessor
	components map[string]*component
}

// component is one component's pair of providers.
type component struct {
	tracer *TracerProvider
	meter  *MeterProvider
}

// New builds the pipelines. Call Shutdown to flush them.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	t := &Telemetry{cfg: cfg, components: map[string]*component{}}
	t.processors = append(t.processors, cfg.Processors...)
	if cfg.OTLPEndpoint != "" {
		if u, err := url.Parse(cfg.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("otlp endpoint %q is not an http(s) URL such as http://otel-collector:4317", cfg.OTLPEndpoint)
		}
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(cfg.OTLPEndpoint))
		if err != nil {
			return nil, fmt.Errorf("create otlp trace exporter for %s: %w", cfg.OTLPEndpoint, err)
		}
		// A queue larger than the default 2048 keeps bursts from being dropped.
		t.processors = append(t.processors, sdktrace.NewBatchSpanProcessor(exp,
			sdktrace.WithMaxQueueSize(16384), sdktrace.WithBatchTimeout(2*time.Second)))
		mexp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpointURL(cfg.OTLPEndpoint))
		if err != nil {
			return nil, fmt.Errorf("create otlp metric exporter for %s: %w", cfg.OTLPEndpoint, err)
		}
		t.metrics = mexp
	}
	if t.cfg.MetricInterval == 0 {
		t.cfg.MetricInterval = 30 * time.Second
	}
	return t, nil
}

// AddSpanProcessor hands every span of every component, those already made
// included, to p as well.
func (t *Telemetry) AddSpanProcessor(p sdktrace.SpanProcessor) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.processors = append(t.processors, p)
	for _, c := range t.components {
		c.tracer.RegisterSpanProcessor(p)
	}
}

// TracerProvider is one component's tracer provider. Its component's
// meter provider travels with it (MeterProviderOf), so code that is handed
// only a tracer provider measures what it traces.
type TracerProvider struct {
	*sdktrace.TracerProvider
	meter *MeterProvider
}

// MeterProvider is one component's meter provider, whose metrics can also
// be scraped as Prometheus text (Handler).
type MeterProvider struct {
	*sdkmetric.MeterProvider
	handler http.Handler
}

// Handler serves the component's metrics in the Prometheus text format.
func (m *MeterProvider) Handler() http.Handler { return m.handler }

// TracerProvider returns the provider of component name, whose spans carry
// service.name = name.
func (t *Telemetry) TracerProvider(name string) trace.TracerProvider {
	return t.component(name).tracer
}

// MeterProvider returns the meter provider of component name, whose
// metrics carry service.name = name: pushed every MetricInterval over OTLP
// when an endpoint is configured, and always served by its Handler.
func (t *Telemetry) MeterProvider(name string) metric.MeterProvider {
	return t.component(name).meter
}

func (t *Telemetry) component(name string) *component {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.components[name]; ok {
		return c
	}
	res := t.resource(name)
	mp := newMeterProvider(res, t.metrics, t.cfg.MetricInterval)
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	for _, p := range t.processors {
		opts = append(opts, sdktrace.WithSpanProcessor(p))
	}
	c := &component{tracer: &TracerProvider{TracerProvider: sdktrace.NewTracerProvider(opts...), meter: mp}, meter: mp}
	t.components[name] = c
	return c
}

// newMeterProvider builds a meter provider read by a Prometheus registry
// of its own and, when exp is set, pushed to it every interval.
func newMeterProvider(res *resource.Resource, exp sdkmetric.Exporter, interval time.Duration) *MeterProvider {
	registry := prometheus.NewRegistry()
	reader, err := otelprom.New(otelprom.WithRegisterer(registry), otelprom.WithoutScopeInfo(),
		otelprom.WithResourceAsConstantLabels(attribute.NewAllowKeysFilter(semconv.ServiceNameKey)))
	opts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithView(secondsView())}
	if err == nil { // it fails only when registering twice in one registry
		opts = append(opts, sdkmetric.WithReader(reader))
	}
	if exp != nil {
		opts = append(opts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(interval))))
	}
	return &MeterProvider{
		MeterProvider: sdkmetric.NewMeterProvider(opts...),
		handler:       promhttp.HandlerFor(registry, promhttp.HandlerOpts{EnableOpenMetrics: true}),
	}
}

// secondsView gives every duration histogram — the Temporal SDK's timers
// included, which name no buckets — DurationBuckets.
func secondsView() sdkmetric.View {
	return sdkmetric.NewView(sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram, Unit: "s"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: DurationBuckets()}})
}

// MeterProviderOf returns the meter provider of the component whose tracer
// provider tp is, or a no-op one for any other tracer provider.
func MeterProviderOf(tp trace.TracerProvider) metric.MeterProvider {
	if p, ok := tp.(*TracerProvider); ok {
		return p.meter
	}
	return noop.NewMeterProvider()
}

// MetricsHandler returns the Prometheus handler of mp when it is a
// component's meter provider, and nil otherwise.
func MetricsHandler(mp metric.MeterProvider) http.Handler {
	if p, ok := mp.(*MeterProvider); ok {
		return p.handler
	}
	return nil
}

func (t *Telemetry) resource(name string) *resource.Resource {
	return resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(name),
		semconv.ServiceNamespace("kinship"),
		semconv.ServiceVersion(t.cfg.Version),
	)
}

// Shutdown flushes and stops every provider handed out.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for _, c := range t.components {
		errs = append(errs, c.tracer.Shutdown(ctx), c.meter.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// Propagator is the W3C trace-context and baggage propagator used on HTTP,
// Kafka and Temporal boundaries.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}
