package rpc

import (
	"context"
	"errors"
	"strings"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/validate"
)

// TraceHeader is the response header carrying the trace id of every API
// call, errors included, so a caller can hand it to whoever reads the
// traces (`kinship trace <id>` in development).
const TraceHeader = "X-Trace-Id"

const scope = "github.com/kinshiphq/kinship/internal/rpc"

// Interceptor is the one Connect interceptor that observes every Kinship
// API call, on both sides: a span continuing the caller's trace, the call's
// duration by procedure and code (rpc.server.call.duration and
// rpc.client.call.duration), and on the server side the trace id in the
// response header TraceHeader and in every error's details.
type Interceptor struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	server     metric.Float64Histogram
	client     metric.Float64Histogram
}

// NewInterceptor observes calls with tp and the meter provider paired with
// it (telemetry.MeterProviderOf).
func NewInterceptor(tp trace.TracerProvider) *Interceptor {
	meter := telemetry.Meter(telemetry.MeterProviderOf(tp), scope)
	// The names are the catalogue's; an error here is a programming
	// mistake caught by the package's tests.
	server, _ := telemetry.Float64Histogram(meter, telemetry.MetricRPCServerDuration)
	client, _ := telemetry.Float64Histogram(meter, telemetry.MetricRPCClientDuration)
	return &Interceptor{tracer: tp.Tracer(scope), propagator: telemetry.Propagator(), server: server, client: client}
}

// WrapUnary observes unary calls on both sides.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		spec := req.Spec()
		kind := trace.SpanKindServer
		if spec.IsClient {
			kind = trace.SpanKindClient
		} else {
			ctx = i.propagator.Extract(ctx, propagation.HeaderCarrier(req.Header()))
		}
		start := time.Now()
		ctx, span := i.tracer.Start(ctx, strings.TrimPrefix(spec.Procedure, "/"),
			trace.WithSpanKind(kind), trace.WithAttributes(rpcAttributes(spec.Procedure)...))
		defer span.End()
		if spec.IsClient {
			i.propagator.Inject(ctx, propagation.HeaderCarrier(req.Header()))
		}
		res, err := next(ctx, req)
		i.finish(ctx, span, spec, start, err)
		if spec.IsClient {
			return res, err
		}
		traceID := span.SpanContext().TraceID().String()
		if err != nil {
			return nil, withTraceID(err, traceID)
		}
		if res != nil {
			res.Header().Set(TraceHeader, traceID)
		}
		return res, nil
	}
}

// WrapStreamingClient traces streaming calls and injects their context.
func (i *Interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		i.propagator.Inject(ctx, propagation.HeaderCarrier(conn.RequestHeader()))
		return conn
	}
}

// WrapStreamingHandler observes streaming handlers.
func (i *Interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx = i.propagator.Extract(ctx, propagation.HeaderCarrier(conn.RequestHeader()))
		spec := conn.Spec()
		start := time.Now()
		ctx, span := i.tracer.Start(ctx, strings.TrimPrefix(spec.Procedure, "/"),
			trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(rpcAttributes(spec.Procedure)...))
		defer span.End()
		traceID := span.SpanContext().TraceID().String()
		conn.ResponseHeader().Set(TraceHeader, traceID) // sent with the first message
		err := next(ctx, conn)
		i.finish(ctx, span, spec, start, err)
		if err != nil {
			return withTraceID(err, traceID)
		}
		return nil
	}
}

// finish records the call's outcome on its span and its duration.
func (i *Interceptor) finish(ctx context.Context, span trace.Span, spec connect.Spec, start time.Time, err error) {
	code := "ok"
	attrs := []attribute.KeyValue{
		attribute.String("rpc.system.name", "connectrpc"),
		attribute.String("rpc.method", strings.TrimPrefix(spec.Procedure, "/")),
	}
	if err != nil {
		code = connect.CodeOf(err).String()
		if serverFault(connect.CodeOf(err)) {
			attrs = append(attrs, attribute.String("error.type", code))
			message := code
			var cerr *connect.Error
			if errors.As(err, &cerr) {
				message = cerr.Message()
			}
			span.SetStatus(codes.Error, message)
		}
	}
	attrs = append(attrs, attribute.String("rpc.response.status_code", code))
	span.SetAttributes(attribute.String("rpc.response.status_code", code))
	h := i.server
	if spec.IsClient {
		h = i.client
	}
	h.Record(context.WithoutCancel(ctx), time.Since(start).Seconds(), metric.WithAttributes(attrs...))
}

// serverFault says whether code means the server failed, rather than the
// caller's request being refused. Only server faults mark a span as
// failed; a refused request is visible through its code.
func serverFault(code connect.Code) bool {
	switch code {
	case connect.CodeInternal, connect.CodeUnknown, connect.CodeDataLoss, connect.CodeUnavailable, connect.CodeDeadlineExceeded:
		return true
	}
	return false
}

func rpcAttributes(procedure string) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("rpc.system.name", "connectrpc"),
		attribute.String("rpc.method", strings.TrimPrefix(procedure, "/")),
	}
}

// withTraceID returns err as a new Connect error with the same code,
// message, details and metadata, plus the trace id in the TraceHeader
// metadata and a RequestInfo detail. A new error, because handlers may
// return one shared error value.
func withTraceID(err error, traceID string) error {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		cerr = connect.NewError(connect.CodeOf(err), err)
	}
	out := connect.NewError(cerr.Code(), errors.New(cerr.Message()))
	for _, d := range cerr.Details() {
		out.AddDetail(d)
	}
	for k, vs := range cerr.Meta() {
		for _, v := range vs {
			out.Meta().Add(k, v)
		}
	}
	out.Meta().Set(TraceHeader, traceID)
	if detail, derr := connect.NewErrorDetail(&errdetails.RequestInfo{RequestId: traceID}); derr == nil {
		out.AddDetail(detail)
	}
	return out
}

// TraceID returns the trace id an API error carries (see TraceHeader), or
// "" when it carries none.
func TraceID(err error) string {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return ""
	}
	if id := cerr.Meta().Get(TraceHeader); id != "" {
		return id
	}
	for _, d := range cerr.Details() {
		if v, derr := d.Value(); derr == nil {
			if info, ok := v.(*errdetails.RequestInfo); ok {
				return info.GetRequestId()
			}
		}
	}
	return ""
}

// communityInterceptor runs after the guard: it says which community the
// call concerns — the caller's, or for callers of every community (and
// public calls) the request's, when it is a well-formed slug — so every
// log record of the call names it (telemetry.WithCommunity).
type communityInterceptor struct{}

func (communityInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !req.Spec().IsClient {
			ctx = telemetry.WithCommunity(ctx, callCommunity(ctx, req.Any()))
		}
		return next(ctx, req)
	}
}

func (communityInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (communityInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(telemetry.WithCommunity(ctx, callCommunity(ctx, nil)), conn)
	}
}

func callCommunity(ctx context.Context, msg any) string {
	if p, ok := auth.FromContext(ctx); ok && p.Community != "" {
		return p.Community
	}
	m, ok := msg.(interface{ GetCommunity() string })
	if !ok || m.GetCommunity() == "" {
		return ""
	}
	// Anyone may name any text here in a public call: only a slug is a
	// community, and only a slug reaches the logs.
	if slug, ferr := validate.Slug("community", m.GetCommunity(), 63); ferr == nil {
		return slug
	}
	return ""
}
