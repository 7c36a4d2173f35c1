package serve

import (
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// handler is the server's mux, each request measured unless it is a probe
// or a scrape.
func (s *Server) handler() http.Handler {
	if s.requests == nil {
		return s.mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			s.mux.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		s.mux.ServeHTTP(sw, r)
		attrs := []attribute.KeyValue{
			attribute.String("http.request.method", method(r.Method)),
			attribute.Int("http.response.status_code", sw.status),
		}
		// The mux sets the pattern it matched, such as
		// "GET /calendar/{community}"; the route is its path.
		if _, route, ok := strings.Cut(r.Pattern, " "); ok {
			attrs = append(attrs, attribute.String("http.route", route))
		} else if r.Pattern != "" {
			attrs = append(attrs, attribute.String("http.route", r.Pattern))
		}
		s.requests.Record(r.Context(), time.Since(start).Seconds(), metric.WithAttributes(attrs...))
	})
}

// method bounds the method attribute to the methods HTTP defines.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// statusWriter remembers the status a handler wrote. Flushing and the
// rest of http.ResponseController's reach pass through Unwrap.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush sends what was written so far (streaming responses need it).
func (w *statusWriter) Flush() {
	w.wrote = true
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
