package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
)

// TestChaos runs the topology under load and faults and fails on any loss,
// reordering or dead letter. It runs only with KINSHIP_CHAOS=1 (it starts
// PostgreSQL, builds the binary and runs for minutes); `make chaos` sets
// it with the long run's settings:
//
//	KINSHIP_CHAOS_OPS      operations (default 600)
//	KINSHIP_CHAOS_FAULTS   faults (default 6: each kind once)
//	KINSHIP_CHAOS_REPLICAS replicas of each service (default 2)
//	KINSHIP_CHAOS_WORKERS  workers (default 2)
//	KINSHIP_CHAOS_SEED     seed of the load and the fault schedule (default 1)
//	KINSHIP_CHAOS_SKIP     fault kinds to leave out, comma-separated (see faultKinds)
//	KINSHIP_CHAOS_SETTLE_S how long the accounting waits for the system to settle (default 240)
//	KINSHIP_CHAOS_BROKER_DOWN_S how long the broker-restart fault keeps the broker stopped (default 60)
//	KINSHIP_CHAOS_DIR      keep the load log and the processes' logs there
//	KINSHIP_CHAOS_BIN      a kinship binary to run instead of building one
func TestChaos(t *testing.T) {
	if os.Getenv("KINSHIP_CHAOS") != "1" {
		t.Skip("set KINSHIP_CHAOS=1 to run the chaos harness (make chaos)")
	}
	ops, faults := envInt(t, "KINSHIP_CHAOS_OPS", 600), envInt(t, "KINSHIP_CHAOS_FAULTS", 6)
	top := topology{replicas: envInt(t, "KINSHIP_CHAOS_REPLICAS", 2), workers: envInt(t, "KINSHIP_CHAOS_WORKERS", 2),
		brokerDown: time.Duration(envInt(t, "KINSHIP_CHAOS_BROKER_DOWN_S", 60)) * time.Second}
	seed := uint64(envInt(t, "KINSHIP_CHAOS_SEED", 1))
	ctx := context.Background()
	dir := t.TempDir()
	if keep := os.Getenv("KINSHIP_CHAOS_DIR"); keep != "" {
		dir = keep // logs kept for a person to read
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := kinshipBinary(t, dir)

	c, err := startCluster(ctx, dir, bin, top)
	if err != nil {
		skipWithoutPostgres(t, err)
		t.Fatal(err)
	}
	defer c.close()
	token, err := c.adminToken()
	if err != nil {
		t.Fatal(err)
	}
	log, err := newLoadLog(filepath.Join(dir, "load.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.close()
	l := newLoader(c, token, log, seed)

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	wg.Add(1)
	const hold = 4 * time.Second
	// How long the accounting waits for the system to settle: a refused
	// e-mail is retried after a minute, an abandoned one after its
	// two-minute lease.
	settle := time.Duration(envInt(t, "KINSHIP_CHAOS_SETTLE_S", 240)) * time.Second
	var skip []string
	if raw := os.Getenv("KINSHIP_CHAOS_SKIP"); raw != "" {
		skip = strings.Split(raw, ",")
	}
	plan := schedule(seed, faults, top, hold, skip)
	go func() {
		defer wg.Done()
		// Spread over about as long as the faults take, so each meets a
		// running load.
		var span time.Duration
		for _, f := range plan {
			span += hold + 2*time.Second
			if f.kind == "broker-restart" {
				span += top.brokerDown
			}
		}
		l.run(loadCtx, ops, 6, span)
	}()
	// Faults one after the other while the load runs, a pause between.
	injected := 0
	for _, f := range plan {
		time.Sleep(time.Second)
		what, err := c.inject(ctx, f)
		if err != nil {
			t.Fatalf("fault %s: %v", f.kind, err)
		}
		injected++
		t.Logf("fault %d: %s", injected, what)
	}
	wg.Wait()

	fig, err := account(ctx, c, l, log, settle)
	fig.faults = injected
	for _, r := range c.services["communications"].replicas {
		kills, _ := r.proc.counts()
		fig.senderCrashes += kills
	}
	for _, r := range c.all() {
		_, exits := r.proc.counts()
		fig.exits += exits
	}
	t.Log(fig.line())
	if err != nil {
		t.Fatalf("accounting: %v", err)
	}
	if fig.failed() {
		if lags, err := groupLags(ctx, c.kafka.Addr()); err == nil {
			t.Logf("consumer groups behind:\n%s", lags)
		}
		t.Errorf("chaos found losses: %s (load log and process logs in %s)", fig.line(), dir)
	}
}

func envInt(t *testing.T, name string, def int) int {
	raw := os.Getenv(name)
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n <= 0 {
		t.Fatalf("$%s: %q is not a positive whole number", name, raw)
	}
	return n
}

// buildKinship builds the kinship binary to bin.
func buildKinship(bin string) error {
	build := exec.Command("go", "build", "-o", bin, "./cmd/kinship")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build kinship: %w\n%s", err, out)
	}
	return nil
}

// skipWithoutPostgres skips t when err says PostgreSQL is not installed,
// as the store suites do, unless KINSHIP_TEST_POSTGRES=require.
func skipWithoutPostgres(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, dbtest.ErrNotInstalled) && strings.TrimSpace(os.Getenv(dbtest.RequireEnv)) != "require" {
		t.Skipf("%v: the chaos harness runs its components on PostgreSQL", err)
	}
}
