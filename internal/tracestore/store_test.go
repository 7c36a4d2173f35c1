package tracestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/internal/telemetry"
)

func provider(store *Store, service string) trace.TracerProvider {
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(store),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service))))
}

// join records a trace shaped like a join: an API call, the publish in
// it, the consume of another service and a workflow start below that.
func join(store *Store, logger *slog.Logger, failed bool) trace.TraceID {
	members, worker := provider(store, "kinship-members").Tracer("t"), provider(store, "kinship-worker").Tracer("t")
	start := time.Now()
	ctx, api := members.Start(context.Background(), "kinship.members.v1.MembersService/JoinCommunity", trace.WithTimestamp(start),
		trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attribute.String(telemetry.AttrCommunity, "demo")))
	logger.InfoContext(ctx, "member joined", "member_id", "m1")
	pctx, publish := members.Start(ctx, "publish demo.members.v1", trace.WithTimestamp(start.Add(2*time.Millisecond)))
	cctx, consume := worker.Start(pctx, "process demo.members.v1", trace.WithTimestamp(start.Add(5*time.Millisecond)))
	_, wf := worker.Start(cctx, "StartWorkflow:Onboarding", trace.WithTimestamp(start.Add(6*time.Millisecond)),
		trace.WithAttributes(attribute.String("temporalWorkflowID", "onboarding/demo/m1"), attribute.String("temporalRunID", "r1")))
	if failed {
		wf.SetStatus(codes.Error, "temporal unavailable")
	}
	wf.End(trace.WithTimestamp(start.Add(9 * time.Millisecond)))
	consume.End(trace.WithTimestamp(start.Add(10 * time.Millisecond)))
	publish.End(trace.WithTimestamp(start.Add(3 * time.Millisecond)))
	api.End(trace.WithTimestamp(start.Add(4 * time.Millisecond)))
	return api.SpanContext().TraceID()
}

func TestATraceIsAWaterfallWithItsLogsAndWorkflowLinks(t *testing.T) {
	store := New(Config{})
	var out bytes.Buffer
	logger := slog.New(store.LogHandler(slog.NewTextHandler(&out, nil))).With("component", "members")
	id := join(store, logger, false)
	logger.Info("outside any span")

	got, ok := store.Trace(id, "http://127.0.0.1:8233")
	if !ok {
		t.Fatal("the trace is not kept")
	}
	var names []string
	for _, s := range got.Spans {
		names = append(names, strings.Repeat(">", s.Depth)+s.Name)
	}
	want := "kinship.members.v1.MembersService/JoinCommunity,>publish demo.members.v1,>>process demo.members.v1,>>>StartWorkflow:Onboarding"
	if strings.Join(names, ",") != want {
		t.Errorf("waterfall = %v, want %s", names, want)
	}
	if got.Root != "kinship.members.v1.MembersService/JoinCommunity" || got.Service != "kinship-members" || got.Community != "demo" ||
		got.DurationMS != 10 || got.SpanCount != 4 || strings.Join(got.Services, ",") != "kinship-members,kinship-worker" {
		t.Errorf("summary = %+v", got.Summary)
	}
	api := got.Spans[0]
	if len(api.Logs) != 1 || api.Logs[0].Message != "member joined" || !hasAttr(api.Logs[0].Attributes, "member_id", "m1") ||
		!hasAttr(api.Logs[0].Attributes, "component", "members") {
		t.Errorf("the API span's logs = %+v, want the join's record with its attributes", api.Logs)
	}
	if got.Spans[3].WorkflowURL != "http://127.0.0.1:8233/namespaces/demo/workflows/onboarding%2Fdemo%2Fm1/r1/history" {
		t.Errorf("workflow link = %q", got.Spans[3].WorkflowURL)
	}
	if !strings.Contains(out.String(), "outside any span") || !strings.Contains(out.String(), "member joined") {
		t.Errorf("records were not passed on: %s", out.String())
	}
	if _, logs := store.Len(); logs != 1 {
		t.Errorf("%d log records kept, want only the one inside a span", logs)
	}
}

func hasAttr(attrs []Attribute, key, value string) bool {
	for _, a := range attrs {
		if a.Key == key && a.Value == value {
			return true
		}
	}
	return false
}

func TestTheStoreKeepsOnlyTheNewestSpans(t *testing.T) {
	store := New(Config{MaxSpans: 6, MaxLogs: 2})
	logger := slog.New(store.LogHandler(slog.NewTextHandler(io.Discard, nil)))
	first := join(store, logger, false)
	second := join(store, logger, false)
	if spans, logs := store.Len(); spans != 6 || logs != 2 {
		t.Errorf("store holds %d spans and %d logs, want 6 and 2", spans, logs)
	}
	if got, ok := store.Trace(first, ""); !ok || len(got.Spans) != 2 || len(got.Spans[0].Logs)+len(got.Spans[1].Logs) != 1 {
		t.Errorf("the older trace keeps %d spans (ok %v), want its 2 newest with its log", len(got.Spans), ok)
	}
	if got, ok := store.Trace(second, ""); !ok || len(got.Spans) != 4 {
		t.Errorf("the newer trace keeps %d spans, want 4", len(got.Spans))
	}
	join(store, logger, false)
	if _, ok := store.Trace(first, ""); ok {
		t.Error("a trace pushed out entirely is still found")
	}
	if n := len(store.Traces(Filter{})); n != 2 {
		t.Errorf("%d traces listed, want the 2 with spans left", n)
	}
}

func TestTracesAreFilteredByServiceOperationStatusAndDuration(t *testing.T) {
	store := New(Config{})
	logger := slog.New(slog.DiscardHandler)
	ok := join(store, logger, false)
	failed := join(store, logger, true)
	_, lone := provider(store, "kinship-events").Tracer("t").Start(context.Background(), "kinship.events.v1.EventsService/ListEvents")
	lone.End()
	tests := []struct {
		query string
		want  []trace.TraceID
	}{
		{"", []trace.TraceID{lone.SpanContext().TraceID(), failed, ok}},
		{"service=kinship-worker", []trace.TraceID{failed, ok}},
		{"operation=listevents", []trace.TraceID{lone.SpanContext().TraceID()}},
		{"status=error", []trace.TraceID{failed}},
		{"status=ok&service=kinship-members", []trace.TraceID{ok}},
		{"min_duration=5ms", []trace.TraceID{failed, ok}},
		{"max_duration=5ms", []trace.TraceID{lone.SpanContext().TraceID()}},
		{"limit=1", []trace.TraceID{lone.SpanContext().TraceID()}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			f, err := ParseFilter(q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range store.Traces(f) {
				got = append(got, s.TraceID)
			}
			var want []string
			for _, id := range tt.want {
				want = append(want, id.String())
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("traces = %v, want %v", got, want)
			}
		})
	}
	for _, bad := range []string{"status=maybe", "min_duration=soon", "max_duration=-1s", "limit=0", "limit=x"} {
		q, _ := url.ParseQuery(bad)
		if _, err := ParseFilter(q); !errors.Is(err, ErrBadFilter) {
			t.Errorf("%s: %v, want ErrBadFilter", bad, err)
		}
	}
}

func TestViewerServesPagesAndJSONAndSaysWhatItDoesNotHave(t *testing.T) {
	store := New(Config{})
	logger := slog.New(store.LogHandler(slog.NewTextHandler(io.Discard, nil)))
	id := join(store, logger, true)
	_, hostile := provider(store, "kinship-members").Tracer("t").Start(context.Background(), "<script>alert(1)</script>")
	hostile.End()
	srv := httptest.NewServer(store.Handler(ViewerConfig{TemporalUI: "http://127.0.0.1:8233", Links: map[string]string{"Mail": "http://127.0.0.1:8025/"}}))
	defer srv.Close()
	unknown := "0123456789abcdef0123456789abcdef"
	tests := []struct {
		path, contentType string
		status            int
		want              []string
	}{
		{"/", "text/html", 200, []string{"/traces/" + id.String(), "JoinCommunity", "&lt;script&gt;", "Temporal Web UI", "http://127.0.0.1:8025/"}},
		{"/?status=error", "text/html", 200, []string{"/traces/" + id.String()}},
		{"/?status=maybe", "text/html", 400, []string{"status is &#34;maybe&#34;"}},
		{"/traces/" + id.String(), "text/html", 200, []string{"StartWorkflow:Onboarding", "temporal unavailable", "member joined",
			"http://127.0.0.1:8233/namespaces/demo/workflows/onboarding%2fdemo%2fm1/r1/history"}},
		{"/traces/" + unknown, "text/html", 404, []string{"no trace " + unknown + " here"}},
		{"/traces/not-a-trace", "text/html", 400, []string{"is not a trace id"}},
		{"/api/traces?service=kinship-worker", "application/json", 200, []string{`"trace_id":"` + id.String()}},
		{"/api/traces/" + id.String(), "application/json", 200, []string{`"name":"StartWorkflow:Onboarding"`, `"status":"error"`}},
		{"/api/traces/" + unknown, "application/json", 404, []string{`"error":"no trace ` + unknown}},
		{"/api/traces/xyz", "application/json", 400, []string{`"error"`}},
		{"/api/services", "application/json", 200, []string{`"kinship-worker":["StartWorkflow:Onboarding","process demo.members.v1"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || !strings.HasPrefix(res.Header.Get("Content-Type"), tt.contentType) {
				t.Errorf("GET %s = %d %s, want %d %s", tt.path, res.StatusCode, res.Header.Get("Content-Type"), tt.status, tt.contentType)
			}
			for _, w := range tt.want {
				if !strings.Contains(strings.ToLower(string(body)), strings.ToLower(w)) {
					t.Errorf("GET %s lacks %q:\n%s", tt.path, w, body)
				}
			}
			if strings.Contains(string(body), "<script>") {
				t.Errorf("GET %s shows a span name unescaped", tt.path)
			}
		})
	}
	// The JSON is what `kinship trace` reads.
	res, err := http.Get(srv.URL + "/api/traces/" + id.String())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got Trace
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil || len(got.Spans) != 4 || got.Errors != 1 {
		t.Errorf("decoded trace = %+v, %v", got.Summary, err)
	}
}

func TestWriteTextPrintsTheWaterfall(t *testing.T) {
	store := New(Config{})
	id := join(store, slog.New(store.LogHandler(slog.NewTextHandler(io.Discard, nil))), true)
	tr, _ := store.Trace(id, "http://ui")
	var out bytes.Buffer
	if err := WriteText(&out, tr, 20, false); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	at := 0
	for _, want := range []string{"trace " + id.String(), "\n  kinship.members.v1.MembersService/JoinCommunity", "INFO  member joined member_id=m1",
		"\n    publish demo.members.v1", "\n      process demo.members.v1", "\n!       StartWorkflow:Onboarding", "status: temporal unavailable"} {
		i := strings.Index(text[at:], want)
		if i < 0 {
			t.Fatalf("after %d bytes the text lacks %q:\n%s", at, want, text)
		}
		at += i + len(want)
	}
	if !strings.Contains(out.String(), "████████") || !strings.Contains(out.String(), "workflow: http://ui/namespaces/demo/workflows/") {
		t.Errorf("no bars or workflow link:\n%s", out.String())
	}
}

// The Temporal SDK's activity loggers carry no context: they name the
// span as TraceID and SpanID, and their lines still join the trace.
func TestLogsOfLoggersNamingTheirSpanJoinTheTrace(t *testing.T) {
	store := New(Config{})
	logger := slog.New(store.LogHandler(slog.NewTextHandler(io.Discard, nil)))
	_, span := provider(store, "kinship-worker").Tracer("t").Start(context.Background(), "RunActivity:SendTemplate")
	sc := span.SpanContext()
	logger.With("Namespace", "demo", "TraceID", sc.TraceID(), "SpanID", sc.SpanID()).Info("template sent", "template", "welcome")
	span.End()
	got, ok := store.Trace(sc.TraceID(), "")
	if !ok || len(got.Spans) != 1 || len(got.Spans[0].Logs) != 1 || got.Spans[0].Logs[0].Message != "template sent" ||
		!hasAttr(got.Spans[0].Logs[0].Attributes, "Namespace", "demo") {
		t.Errorf("trace = %+v, want the activity's log line under its span", got.Spans)
	}
}
