package serve

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

func startServer(t *testing.T, s *Server) (string, context.CancelFunc, chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String(), cancel, done
}

func get(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, body
}

func TestReadyzReflectsDependencies(t *testing.T) {
	var dbDown atomic.Bool
	s := New(Options{Logger: slog.New(slog.DiscardHandler), Checks: map[string]Check{
		"database": func(context.Context) error {
			if dbDown.Load() {
				return errors.New("connection refused")
			}
			return nil
		},
		"kafka": func(context.Context) error { return nil },
	}})
	base, _, _ := startServer(t, s)

	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d, want 200", code)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz with healthy deps = %d (%v), want 200", code, body)
	}
	dbDown.Store(true)
	code, body := get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with database down = %d, want 503", code)
	}
	checks := body["checks"].(map[string]any)
	if checks["database"] != "connection refused" || checks["kafka"] != "ok" {
		t.Errorf("checks = %v, want database failing and kafka ok", checks)
	}
}

func TestServeDrainsInFlightRequestsOnShutdown(t *testing.T) {
	s := New(Options{Logger: slog.New(slog.DiscardHandler), ShutdownTimeout: 5 * time.Second})
	started := make(chan struct{})
	s.Handle("/slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	}))
	base, cancel, done := startServer(t, s)

	result := make(chan string, 1)
	go func() {
		res, err := http.Get(base + "/slow")
		if err != nil {
			result <- err.Error()
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		result <- string(b)
	}()
	<-started
	cancel()
	if got := <-result; got != "done" {
		t.Fatalf("in-flight request got %q, want it to finish with done", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v after a clean shutdown", err)
	}
	done <- nil // let the cleanup receive
}
