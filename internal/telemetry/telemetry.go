// Package telemetry builds the OpenTelemetry tracer and meter providers each
// Kinship component uses, and the slog handler that stamps every log record
// with the current trace and span ids.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/metric"
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
	// Processors (traces and ids still exist, so logs carry trace ids).
	OTLPEndpoint string
	// Version is the build version recorded on the resource.
	Version string
	// Processors receive every span as well, for example a test's
	// tracetest.SpanRecorder.
	Processors []sdktrace.SpanProcessor
}

// Telemetry holds the span pipeline shared by every component of a process.
// Each component gets its own provider from it, so its spans carry its own
// service.name while all of them go to the same exporter.
type Telemetry struct {
	cfg        Config
	processors []sdktrace.SpanProcessor
	metrics    sdkmetric.Exporter
	providers  []*sdktrace.TracerProvider
	meters     []*sdkmetric.MeterProvider
}

// New builds the span pipeline. Call Shutdown to flush it.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	t := &Telemetry{cfg: cfg}
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
	return t, nil
}

// TracerProvider returns a provider whose spans carry service.name = name.
func (t *Telemetry) TracerProvider(name string) trace.TracerProvider {
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(t.resource(name))}
	for _, p := range t.processors {
		opts = append(opts, sdktrace.WithSpanProcessor(p))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	t.providers = append(t.providers, tp)
	return tp
}

// MeterProvider returns a meter provider whose metrics carry service.name =
// name, exported every 30 s over OTLP when an endpoint is configured.
func (t *Telemetry) MeterProvider(name string) metric.MeterProvider {
	opts := []sdkmetric.Option{sdkmetric.WithResource(t.resource(name))}
	if t.metrics != nil {
		opts = append(opts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(t.metrics, sdkmetric.WithInterval(30*time.Second))))
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	t.meters = append(t.meters, mp)
	return mp
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
	var errs []error
	for _, tp := range t.providers {
		errs = append(errs, tp.Shutdown(ctx))
	}
	for _, mp := range t.meters {
		errs = append(errs, mp.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// Propagator is the W3C trace-context and baggage propagator used on HTTP,
// Kafka and Temporal boundaries.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}
