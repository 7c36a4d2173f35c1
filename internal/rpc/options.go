package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace"
)

// MaxRequestBytes bounds every request body a Kinship API reads.
const MaxRequestBytes = 1 << 20

// HandlerOptions are the options every Kinship Connect handler is built
// with: observation (Interceptor: outermost, so refused calls are traced
// and measured too, with the meter provider paired with tp), then guard
// (authentication and authorisation), then the community the call
// concerns for its log records, a request size limit and panic recovery.
func HandlerOptions(tp trace.TracerProvider, logger *slog.Logger, guard connect.Interceptor) []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithInterceptors(NewInterceptor(tp), guard, communityInterceptor{}),
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
// with: observation (Interceptor), and the caller's credentials.
func ClientOptions(tp trace.TracerProvider, credentials connect.Interceptor) []connect.ClientOption {
	return []connect.ClientOption{
		connect.WithInterceptors(NewInterceptor(tp), credentials),
	}
}

// HTTPClient is the HTTP client for service-to-service Connect calls, with
// its own connection pool and a bound on every call.
func HTTPClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	return &http.Client{Transport: tr, Timeout: timeout}
}
