//go:build !nodev

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/tracestore"
	"github.com/kinshiphq/kinship/services/members"
)

// telemetryBench compares join throughput with telemetry off and on in
// one run, and measures the dev trace store full.
type telemetryBench struct {
	requests, concurrency, rounds int
	spans                         int
}

// benchTelemetry runs rounds of joins alternately with telemetry off (no-op
// tracer and meter, no logs) and on as `kinship dev` has it (every span to
// the trace store, metrics recorded and scraped every 5 s, JSON logs with
// trace ids), each round on a fresh members service; then fills a trace
// store with spans shaped like a join's and weighs it.
func benchTelemetry(ctx context.Context, b telemetryBench, logger *slog.Logger) (string, error) {
	start := time.Now()
	rates := map[bool][]float64{}
	for round := range 2 * b.rounds {
		on := round%2 == 1
		deps, stop, err := benchObservability(ctx, on)
		if err != nil {
			return "", err
		}
		env, err := startObservedBenchEnv(ctx, logger, &deps)
		if err != nil {
			stop()
			return "", err
		}
		scrapeCtx, stopScrapes := context.WithCancel(ctx)
		if on {
			go scrapeEvery(scrapeCtx, env.base+"/metrics", 5*time.Second)
		}
		res, err := loadJoin(ctx, env.client, b.requests, b.concurrency)
		stopScrapes()
		env.stop()
		stop()
		if err != nil {
			return "", err
		}
		rates[on] = append(rates[on], float64(b.requests)/res.end.Sub(res.start).Seconds())
	}
	heap, perSpan, err := weighTraceStore(b.spans)
	if err != nil {
		return "", err
	}
	off, on := median(rates[false]), median(rates[true])
	var out strings.Builder
	benchHeader(&out, "Telemetry: cost and the dev trace store", fmt.Sprintf("kinship bench telemetry -requests %d -concurrency %d -rounds %d",
		b.requests, b.concurrency, b.rounds), start)
	out.WriteString("Target: telemetry costs < 10 % of join throughput; the dev trace store holds 100,000 spans in < 200 MB. " +
		"Rounds alternate telemetry off (no-op tracer and meter, no logs) and on as `kinship dev` runs it (every span kept in the trace store, " +
		"metrics recorded and scraped every 5 s, JSON logs with trace ids); each round starts a fresh members service. The store is filled " +
		"with spans shaped like a join's (8 attributes each) and weighed after a garbage collection.\n\n")
	out.WriteString("| joins/s, telemetry off (median) | joins/s, telemetry on (median) | cost | rounds each |\n| ---: | ---: | ---: | ---: |\n")
	fmt.Fprintf(&out, "| %.0f | %.0f | %.1f %% | %d |\n\n", off, on, 100*(1-on/off), b.rounds)
	out.WriteString("| spans kept | heap | per span |\n| ---: | ---: | ---: |\n")
	fmt.Fprintf(&out, "| %d | %.0f MB | %.0f B |\n\n", b.spans, float64(heap)/(1<<20), perSpan)
	return out.String(), nil
}

// benchObservability returns the members service's telemetry, off or on,
// and a function releasing it.
func benchObservability(ctx context.Context, on bool) (members.Deps, func(), error) {
	if !on {
		return members.Deps{Logger: slog.New(slog.DiscardHandler), Tracer: tracenoop.NewTracerProvider(), Meter: metricnoop.NewMeterProvider()}, func() {}, nil
	}
	store := tracestore.New(tracestore.Config{})
	tel, err := telemetry.New(ctx, telemetry.Config{Version: version, Processors: []sdktrace.SpanProcessor{store}})
	if err != nil {
		return members.Deps{}, nil, err
	}
	logger := slog.New(store.LogHandler(telemetry.NewLogHandler(slog.NewJSONHandler(io.Discard, nil))))
	return members.Deps{Logger: logger, Tracer: tel.TracerProvider("kinship-members"), Meter: tel.MeterProvider("kinship-members")},
		func() { _ = tel.Shutdown(context.WithoutCancel(ctx)) }, nil
}

// scrapeEvery reads url every interval, as Prometheus would.
func scrapeEvery(ctx context.Context, url string, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if res, err := http.Get(url); err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}
	}
}

// weighTraceStore fills a store with n spans shaped like a join's and
// returns the heap it holds and its bytes per span.
func weighTraceStore(n int) (uint64, float64, error) {
	before := heapInUse()
	store := tracestore.New(tracestore.Config{MaxSpans: n})
	services := []string{"kinship-members", "kinship-worker", "kinship-communications"}
	tracers := make([]trace.Tracer, len(services))
	for i, svc := range services {
		tracers[i] = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(store),
			sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(svc)))).Tracer("bench")
	}
	names := []string{"kinship.members.v1.MembersService/JoinCommunity", "publish demo.members.v1", "process demo.members.v1",
		"StartWorkflow:Onboarding", "RunActivity:SendTemplate", "kinship.communications.v1.CommunicationsService/SendMessage", "smtp send"}
	ctx := context.Background()
	var parent context.Context
	for i := range n {
		if i%len(names) == 0 {
			parent = ctx
		}
		_, span := tracers[i%len(tracers)].Start(parent, names[i%len(names)], trace.WithAttributes(
			attribute.String("rpc.system.name", "connectrpc"),
			attribute.String("rpc.method", names[i%len(names)]),
			attribute.String("rpc.response.status_code", "ok"),
			attribute.String(telemetry.AttrCommunity, "demo"),
			attribute.String("messaging.destination.name", "demo.members.v1"),
			attribute.String("messaging.message.id", fmt.Sprintf("01JB%022d", i)),
			attribute.Int("messaging.destination.partition.id", i%4),
			attribute.Int64("messaging.kafka.offset", int64(i)),
		))
		if i%len(names) == 0 {
			parent = trace.ContextWithSpan(ctx, span)
		}
		span.End()
	}
	if spans, _ := store.Len(); spans != n {
		return 0, 0, fmt.Errorf("bench: the store holds %d spans, want %d", spans, n)
	}
	held := max(int64(heapInUse())-int64(before), 0)
	runtime.KeepAlive(store)
	return uint64(held), float64(held) / float64(n), nil
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
