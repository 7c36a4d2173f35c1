package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckReadySucceedsOnlyOn200(t *testing.T) {
	var ready atomic.Bool
	ready.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "[-]informer-sync failed", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()

	if err := checkReady(context.Background(), srv.Client(), srv.URL+"/readyz", time.Second); err != nil {
		t.Fatalf("ready operator: %v", err)
	}
	ready.Store(false)
	err := checkReady(context.Background(), srv.Client(), srv.URL+"/readyz", time.Second)
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("unready operator: error %v, want one naming the status", err)
	}
	srv.Close()
	if err := checkReady(context.Background(), http.DefaultClient, srv.URL+"/readyz", time.Second); err == nil {
		t.Fatal("unreachable operator reported ready")
	}
}
