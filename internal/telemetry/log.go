package telemetry

import (
	"context"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// LogHandler wraps a slog.Handler and adds trace_id, span_id and community
// to every record logged with a context that carries them: the span of the
// request or message being handled, and the community it concerns.
//
// The Temporal SDK's loggers (through its slog adapter) carry no context;
// they name the span as TraceID and SpanID and the namespace as Namespace.
// Those become trace_id and span_id, and the namespace — one per
// community — the community.
type LogHandler struct {
	inner slog.Handler
	// hasCommunity and hasTrace are set once WithAttrs added them, so
	// records do not name them twice.
	hasCommunity, hasTrace bool
}

// NewLogHandler returns a handler that stamps trace ids and the community
// onto inner's records.
func NewLogHandler(inner slog.Handler) *LogHandler {
	return &LogHandler{inner: inner}
}

// Enabled reports whether inner handles records at level.
func (h *LogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle adds the span context and community of ctx, if any, and passes
// the record on.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if h.hasTrace {
		sc = trace.SpanContext{}
	}
	community := ""
	if !h.hasCommunity {
		community = CommunityFrom(ctx)
	}
	if community != "" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "community" {
				community = ""
				return false
			}
			return true
		})
	}
	if sc.IsValid() || community != "" {
		r = r.Clone()
		if sc.IsValid() {
			r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
		}
		if community != "" {
			r.AddAttrs(slog.String("community", community))
		}
	}
	return h.inner.Handle(ctx, r)
}

// WithAttrs returns a handler whose records carry attrs.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := &LogHandler{hasCommunity: h.hasCommunity, hasTrace: h.hasTrace}
	renamed := make([]slog.Attr, 0, len(attrs)+1)
	namespace := ""
	for _, a := range attrs {
		switch a.Key {
		case "community":
			out.hasCommunity = true
		case "trace_id":
			out.hasTrace = true
		case "TraceID": // the Temporal SDK's
			a = slog.String("trace_id", a.Value.String())
			out.hasTrace = true
		case "SpanID":
			a = slog.String("span_id", a.Value.String())
		case "Namespace":
			namespace = a.Value.String()
		}
		renamed = append(renamed, a)
	}
	if namespace != "" && !out.hasCommunity {
		renamed = append(renamed, slog.String("community", namespace))
		out.hasCommunity = true
	}
	out.inner = h.inner.WithAttrs(renamed)
	return out
}

// WithGroup returns a handler that nests later attributes under name.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{inner: h.inner.WithGroup(name), hasCommunity: h.hasCommunity, hasTrace: h.hasTrace}
}

type communityKey struct{}

// WithCommunity returns ctx saying that the work it carries concerns
// community: log records made with it name the community, and the
// current span records it as kinship.community.
func WithCommunity(ctx context.Context, community string) context.Context {
	if community == "" || CommunityFrom(ctx) == community {
		return ctx
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.String(AttrCommunity, community))
	return context.WithValue(ctx, communityKey{}, community)
}

// CommunityFrom returns the community the work of ctx concerns, if known.
func CommunityFrom(ctx context.Context) string {
	c, _ := ctx.Value(communityKey{}).(string)
	return c
}

// TopicCommunity returns the community of a Kinship topic
// (<community>.<domain>.v1, or its dead-letter topic): community slugs
// hold no dots.
func TopicCommunity(topic string) string {
	community, _, ok := strings.Cut(topic, ".")
	if !ok {
		return ""
	}
	return community
}
