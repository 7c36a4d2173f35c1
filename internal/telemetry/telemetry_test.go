package telemetry

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
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
