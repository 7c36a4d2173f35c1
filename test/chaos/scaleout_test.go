package chaos

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

// TestScaleOut runs the production topology with 1, 2 and 3 replicas of
// every service and of the worker, all on one PostgreSQL server, without
// faults, and measures what replicas add: joins accepted per second
// (clients spread over the replicas) and welcome e-mails delivered per
// second (the trigger, the journeys, the dispatchers). Every run checks
// that nothing happened twice: one welcome per member (one Message-ID, one
// copy) and one MemberJoined per member on the topic, whichever replica
// took the join, relayed it, started the journey or sent the e-mail. It
// runs only with KINSHIP_SCALEOUT=1 (`make bench-scaleout`, part of `make
// bench`), and writes its table to $KINSHIP_SCALEOUT_OUT when set:
//
//	KINSHIP_SCALEOUT_JOINS    joins per run (default 2000)
//	KINSHIP_SCALEOUT_REPLICAS replica counts, comma-separated (default 1,2,3)
//	KINSHIP_CHAOS_BIN         a kinship binary to run instead of building one
func TestScaleOut(t *testing.T) {
	if os.Getenv("KINSHIP_SCALEOUT") != "1" {
		t.Skip("set KINSHIP_SCALEOUT=1 to measure scale-out (make bench-scaleout)")
	}
	joins := envInt(t, "KINSHIP_SCALEOUT_JOINS", 2000)
	counts := []int{1, 2, 3}
	if raw := os.Getenv("KINSHIP_SCALEOUT_REPLICAS"); raw != "" {
		counts = nil
		for _, f := range strings.Split(raw, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				t.Fatalf("$KINSHIP_SCALEOUT_REPLICAS: %q is not a list of positive whole numbers", raw)
			}
			counts = append(counts, n)
		}
	}
	bin := kinshipBinary(t, t.TempDir())
	rows := []string{
		"| replicas of each service and worker | joins | joins accepted/s | join p99 | welcome e-mails/s (first join → last welcome) | welcomes per member | MemberJoined per member | events republished | load |",
		"| ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |",
	}
	for _, n := range counts {
		row, err := scaleOutRun(t, bin, n, joins)
		if err != nil {
			t.Fatalf("%d replicas: %v", n, err)
		}
		t.Log(row)
		rows = append(rows, row)
	}
	table := strings.Join(rows, "\n") + "\n"
	if out := os.Getenv("KINSHIP_SCALEOUT_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// scaleOutRun starts a topology of n replicas, joins members, waits for
// their welcomes and checks that each effect happened once.
func scaleOutRun(t *testing.T, bin string, n, joins int) (string, error) {
	ctx := context.Background()
	dir := t.TempDir()
	c, err := startCluster(ctx, dir, bin, topology{replicas: n, workers: n, emailPerSecond: 1_000_000})
	if err != nil {
		skipWithoutPostgres(t, err)
		return "", err
	}
	defer c.close()
	token, err := c.adminToken()
	if err != nil {
		return "", err
	}
	httpClient := &http.Client{Timeout: 30 * time.Second}
	bearer := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}))
	var clients []membersv1connect.MembersServiceClient
	for _, r := range c.services["members"].replicas {
		clients = append(clients, membersv1connect.NewMembersServiceClient(httpClient, r.url, bearer))
	}

	const concurrency = 16
	latencies := make([]time.Duration, joins)
	emails := make([]string, joins)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= joins || failed.Load() != nil {
					return
				}
				email := fmt.Sprintf("scale-%d-%d@example.org", n, i)
				t0 := time.Now()
				_, err := clients[(w+i)%len(clients)].JoinCommunity(ctx, connect.NewRequest(&membersv1.JoinCommunityRequest{
					Community: community, Email: email, DisplayName: "Scale Member"}))
				if err != nil {
					failed.Store(fmt.Errorf("join %d: %w", i, err))
					return
				}
				latencies[i], emails[i] = time.Since(t0), email
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return "", err
	}
	accepted := time.Since(start)
	slices.Sort(latencies)

	// Every member's welcome, once.
	want := map[string]bool{}
	for _, e := range emails {
		want[e] = true
	}
	deadline := time.Now().Add(10 * time.Minute)
	var last time.Time
	for {
		if got, _ := welcomeCounts(c, want); len(got) == len(want) {
			time.Sleep(5 * time.Second) // a late second copy would show now
			got, last = welcomeCounts(c, want)
			if bad := moreThanOnce(got); bad != "" {
				return "", fmt.Errorf("welcomes sent twice: %s", bad)
			}
			break
		}
		if time.Now().After(deadline) {
			got, _ := welcomeCounts(c, want)
			return "", fmt.Errorf("%d of %d members welcomed after 10 minutes (logs in %s)", len(got), len(want), dir)
		}
		time.Sleep(time.Second)
	}
	load := loadAverage()

	events, republished, err := readTopic(ctx, c.kafka.Addr(), community+".members.v1")
	if err != nil {
		return "", err
	}
	joinedTwice := 0
	for _, evs := range events {
		joined := 0
		for _, e := range evs {
			if strings.HasSuffix(e.typ, "MemberJoined") {
				joined++
			}
		}
		if joined > 1 {
			joinedTwice++
		}
	}
	if joinedTwice > 0 {
		return "", fmt.Errorf("%d members have more than one MemberJoined event", joinedTwice)
	}
	return fmt.Sprintf("| %d | %d | %.0f | %.1f ms | %.0f | exactly 1 | exactly 1 | %d | %s |", n, joins,
		float64(joins)/accepted.Seconds(), float64(latencies[joins*99/100].Microseconds())/1000,
		float64(joins)/last.Sub(start).Seconds(), republished, load), nil
}

// welcomeCounts counts each wanted member's welcome copies by Message-ID
// and returns when the last of their welcomes arrived.
func welcomeCounts(c *cluster, want map[string]bool) (map[string]map[string]int, time.Time) {
	msgs := c.mail.messages()
	got := copiesByRecipient(msgs, isWelcome)
	maps.DeleteFunc(got, func(to string, _ map[string]int) bool { return !want[to] })
	var last time.Time
	for _, m := range msgs {
		if isWelcome(m.Subject) && m.ReceivedAt.After(last) && slices.ContainsFunc(m.To, func(to string) bool { return want[strings.ToLower(strings.Trim(to, "<> "))] }) {
			last = m.ReceivedAt
		}
	}
	return got, last
}

// moreThanOnce names a member welcomed more than once, if any.
func moreThanOnce(got map[string]map[string]int) string {
	for to, ids := range got {
		copies := 0
		for _, n := range ids {
			copies += n
		}
		if len(ids) > 1 || copies > 1 {
			return fmt.Sprintf("%s: %d Message-IDs, %d copies", to, len(ids), copies)
		}
	}
	return ""
}

// loadAverage is the one-minute load average, for the record.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "–"
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return "–"
	}
	return f[0]
}

// kinshipBinary is the binary the topology runs: $KINSHIP_CHAOS_BIN, or
// one built into dir.
func kinshipBinary(t *testing.T, dir string) string {
	t.Helper()
	if bin := os.Getenv("KINSHIP_CHAOS_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(dir, "kinship")
	if err := buildKinship(bin); err != nil {
		t.Fatal(err)
	}
	return bin
}
