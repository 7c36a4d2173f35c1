package telemetry

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const connectScope = "github.com/kinshiphq/kinship/internal/telemetry/connect"

// ConnectInterceptor traces Connect, gRPC and gRPC-Web calls: a server span
// continuing the caller's trace from the request headers, and a client span
// whose context is injected into the outgoing headers.
type ConnectInterceptor struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
}

// NewConnectInterceptor traces calls with tp.
func NewConnectInterceptor(tp trace.TracerProvider) *ConnectInterceptor {
	return &ConnectInterceptor{tracer: tp.Tracer(connectScope), propagator: Propagator()}
}

// WrapUnary traces unary calls on both sides.
func (i *ConnectInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		spec := req.Spec()
		kind := trace.SpanKindServer
		if spec.IsClient {
			kind = trace.SpanKindClient
		} else {
			ctx = i.propagator.Extract(ctx, propagation.HeaderCarrier(req.Header()))
		}
		ctx, span := i.tracer.Start(ctx, strings.TrimPrefix(spec.Procedure, "/"),
			trace.WithSpanKind(kind), trace.WithAttributes(rpcAttributes(spec.Procedure)...))
		defer span.End()
		if spec.IsClient {
			i.propagator.Inject(ctx, propagation.HeaderCarrier(req.Header()))
		}
		res, err := next(ctx, req)
		recordConnectError(span, err)
		return res, err
	}
}

// WrapStreamingClient injects the trace context into streaming calls.
func (i *ConnectInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		i.propagator.Inject(ctx, propagation.HeaderCarrier(conn.RequestHeader()))
		return conn
	}
}

// WrapStreamingHandler traces streaming handlers.
func (i *ConnectInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx = i.propagator.Extract(ctx, propagation.HeaderCarrier(conn.RequestHeader()))
		procedure := conn.Spec().Procedure
		ctx, span := i.tracer.Start(ctx, strings.TrimPrefix(procedure, "/"),
			trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(rpcAttributes(procedure)...))
		defer span.End()
		err := next(ctx, conn)
		recordConnectError(span, err)
		return err
	}
}

func rpcAttributes(procedure string) []attribute.KeyValue {
	service, method, _ := strings.Cut(strings.TrimPrefix(procedure, "/"), "/")
	return []attribute.KeyValue{
		attribute.String("rpc.system", "connect_rpc"),
		attribute.String("rpc.service", service),
		attribute.String("rpc.method", method),
	}
}

func recordConnectError(span trace.Span, err error) {
	if err == nil {
		return
	}
	code := connect.CodeOf(err)
	span.SetAttributes(attribute.String("rpc.connect_rpc.error_code", code.String()))
	var cerr *connect.Error
	// Only server faults mark the span as failed; a rejected request is the
	// caller's mistake and is visible through the error code.
	switch code {
	case connect.CodeInternal, connect.CodeUnknown, connect.CodeDataLoss, connect.CodeUnavailable, connect.CodeDeadlineExceeded:
		if errors.As(err, &cerr) {
			span.SetStatus(codes.Error, cerr.Message())
		} else {
			span.SetStatus(codes.Error, code.String())
		}
	}
}
