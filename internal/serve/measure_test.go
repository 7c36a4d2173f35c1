package serve

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/telemetry/telemetrytest"
)

func TestServerMeasuresRequestsAndServesMetrics(t *testing.T) {
	tel, err := telemetry.New(context.Background(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Logger: slog.New(slog.DiscardHandler), Meter: tel.MeterProvider("kinship-test")})
	flushed := make(chan error, 2)
	s.Handle("GET /things/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "thing")
		flushed <- http.NewResponseController(w).Flush()
	}))
	base, _, _ := startServer(t, s)
	for _, path := range []string{"/things/1", "/things/2", "/things/missing", "/healthz", "/nowhere"} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	for range 2 {
		if err := <-flushed; err != nil {
			t.Errorf("a handler cannot flush through the measuring writer: %v", err)
		}
	}
	got := telemetrytest.Get(t, base+"/metrics")
	tests := []struct {
		route, status string
		want          float64
	}{
		{"/things/{id}", "200", 2},
		{"/things/{id}", "404", 1},
		{"", "404", 1}, // no route matched
		{"/healthz", "200", 0},
	}
	for _, tt := range tests {
		if n := got.Sum("http_server_request_duration_seconds_count", "http_route", tt.route, "http_response_status_code", tt.status,
			"http_request_method", "GET", "service_name", "kinship-test"); n != tt.want {
			t.Errorf("requests to %q answered %s = %v, want %v\n%s", tt.route, tt.status, n, tt.want, got)
		}
	}
}

func TestServerWithoutAMeterServesNoMetrics(t *testing.T) {
	base, _, _ := startServer(t, New(Options{Logger: slog.New(slog.DiscardHandler)}))
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics without a meter = %d, want 404", res.StatusCode)
	}
}
