// Package serve runs a Kinship HTTP server: Connect handlers over HTTP/1.1
// and h2c, /healthz for liveness, /readyz reflecting the component's
// dependencies, /metrics with the component's metrics as Prometheus text,
// every request's duration measured, and a graceful shutdown bounded by a
// timeout.
package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/kinshiphq/kinship/internal/telemetry"
)

// Check reports whether one dependency is usable; nil means ready.
type Check func(ctx context.Context) error

// Server is one component's HTTP server.
type Server struct {
	mux             *http.ServeMux
	logger          *slog.Logger
	checks          map[string]Check
	shutdownTimeout time.Duration
	draining        atomic.Bool
	requests        metric.Float64Histogram
}

// Options configure a Server.
type Options struct {
	Logger *slog.Logger
	// Checks run on every /readyz request, in parallel, each bounded to 2 s.
	Checks map[string]Check
	// ShutdownTimeout bounds the graceful shutdown; 0 means 10 s.
	ShutdownTimeout time.Duration
	// Meter measures every request (http.server.request.duration); when
	// it is a component's meter provider from internal/telemetry, GET
	// /metrics serves its metrics. Nil measures nothing.
	Meter metric.MeterProvider
}

// New returns a Server with /healthz and /readyz mounted.
func New(opts Options) *Server {
	s := &Server{
		mux:             http.NewServeMux(),
		logger:          opts.Logger,
		checks:          opts.Checks,
		shutdownTimeout: opts.ShutdownTimeout,
	}
	if s.shutdownTimeout == 0 {
		s.shutdownTimeout = 10 * time.Second
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.ready)
	if h := telemetry.MetricsHandler(opts.Meter); h != nil {
		s.mux.Handle("GET /metrics", h)
	}
	if opts.Meter != nil {
		// The name is the catalogue's; an error would be a programming
		// mistake, caught by the package's tests.
		s.requests, _ = telemetry.Float64Histogram(telemetry.Meter(opts.Meter, "github.com/kinshiphq/kinship/internal/serve"),
			telemetry.MetricHTTPServerDuration)
	}
	return s
}

// Handle mounts h under pattern, as a Connect handler's (path, handler).
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
}

// Serve serves on ln until ctx ends, then drains: /readyz turns 503 at once,
// in-flight requests get up to the shutdown timeout to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:   s.handler(),
		Protocols: protocols,
		// No whole-request read or write timeout: imports and exports
		// stream for minutes. Each call is bounded by its handler's
		// deadline instead (see internal/auth).
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.logger.InfoContext(ctx, "http server listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down http server on %s: %w", ln.Addr(), err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	}
	s.logger.InfoContext(ctx, "http server stopped", "addr", ln.Addr().String())
	return nil
}

// Listen returns ln when it is set, or a new TCP listener on addr.
func Listen(ln net.Listener, addr string) (net.Listener, error) {
	if ln != nil {
		return ln, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return l, nil
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
		return
	}
	names := make([]string, 0, len(s.checks))
	for name := range s.checks {
		names = append(names, name)
	}
	sort.Strings(names)
	results := make([]string, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := s.checks[name](ctx); err != nil {
				results[i] = err.Error()
				return
			}
			results[i] = "ok"
		})
	}
	wg.Wait()
	status := http.StatusOK
	body := map[string]any{}
	for i, name := range names {
		body[name] = results[i]
		if results[i] != "ok" {
			status = http.StatusServiceUnavailable
		}
	}
	writeJSON(w, status, map[string]any{"status": http.StatusText(status), "checks": body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
