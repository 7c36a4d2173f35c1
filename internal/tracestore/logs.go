package tracestore

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/internal/telemetry"
)

// LogHandler passes every record on to inner and keeps those made inside
// a span (a context carrying a valid span, or a logger naming one as the
// Temporal SDK's activity loggers do: TraceID and SpanID) in the store,
// under the span's trace, so a trace shows the logs of its spans.
func (s *Store) LogHandler(inner slog.Handler) slog.Handler {
	return &logHandler{store: s, inner: inner}
}

type logHandler struct {
	store *Store
	inner slog.Handler
	// attrs were added with WithAttrs, keys prefixed by their groups.
	attrs  []attribute.KeyValue
	prefix string
	// traceID and spanID were named by WithAttrs.
	traceID trace.TraceID
	spanID  trace.SpanID
}

func (h *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() && h.traceID.IsValid() {
		sc = trace.NewSpanContext(trace.SpanContextConfig{TraceID: h.traceID, SpanID: h.spanID})
	}
	if sc.TraceID().IsValid() {
		attrs := make([]attribute.KeyValue, 0, len(h.attrs)+r.NumAttrs()+1)
		attrs = append(attrs, h.attrs...)
		if c := telemetry.CommunityFrom(ctx); c != "" {
			attrs = append(attrs, attribute.String("community", c))
		}
		r.Attrs(func(a slog.Attr) bool {
			attrs = appendAttr(attrs, h.prefix, a)
			return true
		})
		h.store.addLog(logRecord{traceID: sc.TraceID(), spanID: sc.SpanID(), at: r.Time.UnixNano(),
			level: r.Level.String(), message: r.Message, attrs: attrs})
	}
	return h.inner.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := *h
	out.attrs = append([]attribute.KeyValue(nil), h.attrs...)
	for _, a := range as {
		switch a.Key {
		case "TraceID", "trace_id":
			if id, err := trace.TraceIDFromHex(a.Value.String()); err == nil {
				out.traceID = id
			}
			continue
		case "SpanID", "span_id":
			if id, err := trace.SpanIDFromHex(a.Value.String()); err == nil {
				out.spanID = id
			}
			continue
		}
		out.attrs = appendAttr(out.attrs, h.prefix, a)
	}
	out.inner = h.inner.WithAttrs(as)
	return &out
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	out := *h
	out.inner, out.prefix = h.inner.WithGroup(name), h.prefix+name+"."
	return &out
}

// appendAttr flattens a (and its groups) into key=value attributes.
func appendAttr(attrs []attribute.KeyValue, prefix string, a slog.Attr) []attribute.KeyValue {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			attrs = appendAttr(attrs, p, g)
		}
		return attrs
	}
	if a.Key == "" {
		return attrs
	}
	key := attribute.Key(prefix + a.Key)
	switch v.Kind() {
	case slog.KindInt64:
		return append(attrs, key.Int64(v.Int64()))
	case slog.KindBool:
		return append(attrs, key.Bool(v.Bool()))
	case slog.KindFloat64:
		return append(attrs, key.Float64(v.Float64()))
	}
	return append(attrs, key.String(v.String()))
}
