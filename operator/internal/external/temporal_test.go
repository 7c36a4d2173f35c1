package external

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/devstack"
)

func startTemporal(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv, err := devstack.StartTemporal(devstack.TemporalConfig{
		DataFile:   filepath.Join(t.TempDir(), "temporal.db"),
		Address:    addr,
		Namespaces: []string{"default"},
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("start temporal: %v", err)
	}
	t.Cleanup(srv.Stop)
	return addr
}

func TestTemporalAdminAgainstAServer(t *testing.T) {
	exerciseNamespace(t, TemporalCluster{Address: startTemporal(t)})
}

// exerciseNamespace takes a namespace through its life on cluster.
func exerciseNamespace(t *testing.T, cluster TemporalCluster) {
	t.Helper()
	tp := NewTemporalAdmin(slog.New(slog.DiscardHandler), 10*time.Second)
	defer tp.Close()
	ctx := context.Background()

	st, err := tp.DescribeNamespace(ctx, cluster, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if st.Exists {
		t.Fatal("namespace alpha exists before it was registered")
	}
	if err := tp.RegisterNamespace(ctx, cluster, "alpha", 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := tp.RegisterNamespace(ctx, cluster, "alpha", 48*time.Hour); err != nil {
		t.Fatalf("registering an existing namespace: %v", err)
	}
	st, err = tp.DescribeNamespace(ctx, cluster, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if st != (NamespaceState{Exists: true, Retention: 48 * time.Hour}) {
		t.Fatalf("after registering: %+v", st)
	}
	// The frontend learns of new namespaces when its registry refreshes
	// (every few seconds); until then updates report the namespace missing.
	eventually(t, 30*time.Second, func() error { return tp.SetRetention(ctx, cluster, "alpha", 72*time.Hour) })
	if st, err = tp.DescribeNamespace(ctx, cluster, "alpha"); err != nil || st.Retention != 72*time.Hour {
		t.Fatalf("after changing retention: %+v, %v", st, err)
	}
	if err := tp.DeleteNamespace(ctx, cluster, "alpha"); err != nil {
		t.Fatal(err)
	}
	if st, err = tp.DescribeNamespace(ctx, cluster, "alpha"); err != nil || st.Exists {
		t.Fatalf("after deleting: %+v, %v", st, err)
	}
	if err := tp.DeleteNamespace(ctx, cluster, "alpha"); err != nil {
		t.Fatalf("deleting a missing namespace: %v", err)
	}
}

func eventually(t *testing.T, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestTemporalAdminReportsAnUnreachableServer(t *testing.T) {
	tp := NewTemporalAdmin(slog.New(slog.DiscardHandler), time.Second)
	defer tp.Close()
	start := time.Now()
	if _, err := tp.DescribeNamespace(context.Background(), TemporalCluster{Address: "127.0.0.1:1"}, "alpha"); err == nil {
		t.Fatal("describing a namespace on a closed port must fail")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("failing took %s; calls must be bounded by the timeout", d)
	}
}

// A namespace deleted right after it was registered may be unknown to the
// frontend's registry still; the delete must then fail, to be retried,
// and never report success while the namespace remains.
func TestTemporalAdminDeletesAFreshNamespaceOrSaysWhyNot(t *testing.T) {
	cluster := TemporalCluster{Address: startTemporal(t)}
	tp := NewTemporalAdmin(slog.New(slog.DiscardHandler), 10*time.Second)
	defer tp.Close()
	ctx := context.Background()
	if err := tp.RegisterNamespace(ctx, cluster, "fresh-one", 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		err := tp.DeleteNamespace(ctx, cluster, "fresh-one")
		if err != nil && !strings.Contains(err.Error(), "does not know it yet") {
			t.Fatalf("deleting a fresh namespace: %v", err)
		}
		if st, derr := tp.DescribeNamespace(ctx, cluster, "fresh-one"); derr != nil || st.Exists {
			if err == nil {
				t.Fatalf("the delete reported success but the namespace remains: %+v %v", st, derr)
			}
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}
