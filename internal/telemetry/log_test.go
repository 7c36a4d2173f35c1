package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestLogHandlerAddsTraceAndSpanIDs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(NewLogHandler(slog.NewJSONHandler(&buf, nil)))
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	logger.InfoContext(ctx, "inside span", "member_id", "m1")
	span.End()

	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("decode log line %q: %v", buf.String(), err)
	}
	if got, want := rec["trace_id"], span.SpanContext().TraceID().String(); got != want {
		t.Errorf("trace_id = %v, want %v", got, want)
	}
	if got, want := rec["span_id"], span.SpanContext().SpanID().String(); got != want {
		t.Errorf("span_id = %v, want %v", got, want)
	}
}

func TestLogHandlerLeavesRecordsWithoutSpanAlone(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(NewLogHandler(slog.NewJSONHandler(&buf, nil)).WithAttrs([]slog.Attr{slog.String("component", "members")}))
	logger.Info("no span")

	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("decode log line %q: %v", buf.String(), err)
	}
	if _, ok := rec["trace_id"]; ok {
		t.Errorf("trace_id present without a span: %v", rec)
	}
	if rec["component"] != "members" {
		t.Errorf("component attribute lost: %v", rec)
	}
}

func TestLogHandlerNamesTheCommunityOnce(t *testing.T) {
	tests := []struct {
		name string
		log  func(ctx context.Context, l *slog.Logger)
		want string
	}{
		{"from the context", func(ctx context.Context, l *slog.Logger) { l.InfoContext(ctx, "x") }, "demo"},
		{"the record's own wins", func(ctx context.Context, l *slog.Logger) { l.InfoContext(ctx, "x", "community", "other") }, "other"},
		{"the logger's own wins", func(ctx context.Context, l *slog.Logger) { l.With("community", "other").InfoContext(ctx, "x") }, "other"},
		{"none without a context", func(_ context.Context, l *slog.Logger) { l.Info("x") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(NewLogHandler(slog.NewTextHandler(&buf, nil)))
			tt.log(WithCommunity(context.Background(), "demo"), logger)
			line := buf.String()
			if n := strings.Count(line, "community="); (tt.want == "" && n != 0) || (tt.want != "" && n != 1) {
				t.Errorf("community named %d times: %s", n, line)
			}
			if tt.want != "" && !strings.Contains(line, "community="+tt.want) {
				t.Errorf("line %q, want community=%s", line, tt.want)
			}
		})
	}
}

func TestTopicCommunity(t *testing.T) {
	for topic, want := range map[string]string{"demo.members.v1": "demo", "climate-action.events.v1.dlq": "climate-action", "nodots": ""} {
		if got := TopicCommunity(topic); got != want {
			t.Errorf("TopicCommunity(%q) = %q, want %q", topic, got, want)
		}
	}
}

// The Temporal SDK's loggers name their span and namespace their way; the
// lines carry trace_id, span_id and the community all the same.
func TestLogHandlerSpeaksForTemporalsLoggers(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(NewLogHandler(slog.NewJSONHandler(&buf, nil)))
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "RunActivity:SendTemplate")
	sc := span.SpanContext()
	logger.With("Namespace", "demo", "TraceID", sc.TraceID(), "SpanID", sc.SpanID()).InfoContext(ctx, "template sent")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["trace_id"] != sc.TraceID().String() || rec["span_id"] != sc.SpanID().String() || rec["community"] != "demo" {
		t.Errorf("record = %v, want trace_id, span_id and community", rec)
	}
	if strings.Count(buf.String(), "trace_id") != 1 || strings.Contains(buf.String(), "TraceID") {
		t.Errorf("trace id named more than once, or in Temporal's words: %s", buf.String())
	}
}
