package telemetry

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

func TestEachComponentSharesThePipelineUnderItsOwnName(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tel, err := New(context.Background(), Config{Version: "v1.2.3", Processors: []sdktrace.SpanProcessor{rec}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kinship-members", "kinship-worker"} {
		_, span := tel.TracerProvider(name).Tracer("t").Start(context.Background(), "op")
		span.End()
	}
	ended := rec.Ended()
	if len(ended) != 2 {
		t.Fatalf("recorded %d spans, want 2", len(ended))
	}
	for i, want := range []string{"kinship-members", "kinship-worker"} {
		var got string
		for _, kv := range ended[i].Resource().Attributes() {
			if kv.Key == semconv.ServiceNameKey {
				got = kv.Value.AsString()
			}
		}
		if got != want {
			t.Errorf("span %d service.name = %q, want %q", i, got, want)
		}
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestOTLPEndpointBuildsExportersWithoutDialling(t *testing.T) {
	tel, err := New(context.Background(), Config{OTLPEndpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatalf("New with an unreachable collector: %v", err)
	}
	tel.TracerProvider("kinship-members")
	tel.MeterProvider("kinship-members")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // nothing to wait for
	_ = tel.Shutdown(ctx)
	if _, err := New(context.Background(), Config{OTLPEndpoint: "::not a url"}); err == nil {
		t.Error("New accepted a malformed endpoint")
	}
}

func TestAddedSpanProcessorsSeeEveryComponent(t *testing.T) {
	tel, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	early := tel.TracerProvider("kinship-members")
	rec := tracetest.NewSpanRecorder()
	tel.AddSpanProcessor(rec)
	late := tel.TracerProvider("kinship-worker")
	if tel.TracerProvider("kinship-members") != early {
		t.Error("a component's provider is not handed out once")
	}
	for _, tp := range []trace.TracerProvider{early, late} {
		_, span := tp.Tracer("t").Start(context.Background(), "op")
		span.End()
	}
	if n := len(rec.Ended()); n != 2 {
		t.Errorf("the added processor saw %d spans, want both components' 2", n)
	}
}

func TestATracerProviderCarriesItsComponentsMeter(t *testing.T) {
	tel, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if MeterProviderOf(tel.TracerProvider("kinship-members")) != tel.MeterProvider("kinship-members") {
		t.Error("the members tracer provider does not carry the members meter provider")
	}
	if MetricsHandler(MeterProviderOf(tracenoop.NewTracerProvider())) != nil {
		t.Error("a tracer provider from elsewhere carries a meter with a handler")
	}
	if MetricsHandler(tel.MeterProvider("kinship-members")) == nil {
		t.Error("a component's meter provider serves no metrics")
	}
}
