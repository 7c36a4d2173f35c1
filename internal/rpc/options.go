package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/internal/telemetry"
)

// MaxRequestBytes bounds every request body a Kinship API reads.
const MaxRequestBytes = 1 << 20

// HandlerOptions are the options every Kinship Connect handler is built
// with: tracing (outermost, so refused calls are traced too), then guard
// (authentication and authorisation), a request size limit and panic
// recovery.
func HandlerOptions(tp trace.TracerProvider, logger *slog.Logger, guard connect.Interceptor) []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithInterceptors(telemetry.NewConnectInterceptor(tp), guard),
		connect.WithReadMaxBytes(MaxRequestBytes),
		// Small answers are cheaper sent as they are than gzipped.
		connect.WithCompressMinBytes(4 << 10),
		connect.WithRecover(func(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
			logger.ErrorContext(ctx, "handler panicked", "procedure", spec.Procedure, "panic", fmt.Sprint(p))
			return connect.NewError(connect.CodeInternal, fmt.Errorf("internal error"))
		}),
	}
}

// ClientOptions are the options every Kinship Connect client is built
// with: tracing, and the caller's credentials.
func ClientOptions(tp trace.TracerProvider, credentials connect.Interceptor) []connect.ClientOption {
	return []connect.ClientOption{
		connect.WithInterceptors(telemetry.NewConnectInterceptor(tp), credentials),
	}
}

// HTTPClient is the HTTP client for service-to-service Connect calls, with
// its own connection pool and a bound on every call.
func HTTPClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	return &http.Client{Transport: tr, Timeout: timeout}
}
