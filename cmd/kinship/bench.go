package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kfake"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/services/members"
	"github.com/kinshiphq/kinship/services/members/events"
)

// runBench measures JoinCommunity on the embedded defaults: the members
// service on SQLite with its outbox relaying to the in-process broker,
// called over HTTP by concurrent clients.
func runBench(ctx context.Context, args []string, logger *slog.Logger, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "join" {
		return fmt.Errorf("bench: name a benchmark (join): %w", errUsage)
	}
	fs := flag.NewFlagSet("kinship bench join", flag.ContinueOnError)
	requests := fs.Int("requests", 5000, "joins to send")
	concurrency := fs.Int("concurrency", 16, "clients sending at once")
	out := fs.String("out", "", "markdown file whose join section is replaced with the results")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *requests < 1 || *concurrency < 1 {
		return errors.New("bench: -requests and -concurrency must be positive")
	}
	dir, err := os.MkdirTemp("", "kinship-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(4))
	if err != nil {
		return fmt.Errorf("bench: start broker: %w", err)
	}
	defer broker.Close()
	brokers := broker.ListenAddrs()
	if err := kafka.EnsureTopics(ctx, brokers, kafka.Topic{Name: events.Topic("demo"), Partitions: 4, ReplicationFactor: 1}); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	issuerLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	issuer, err := localissuer.New("http://"+issuerLn.Addr().String(), "")
	if err != nil {
		return err
	}
	issuerSrv := &http.Server{Handler: issuer.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = issuerSrv.Serve(issuerLn) }()
	defer issuerSrv.Close()
	// An organiser imports members: public rate limits do not apply.
	organiser, err := issuer.Mint(localissuer.Claims{Subject: "bench", Audience: "kinship", Community: "demo", Roles: []string{"organiser"}, TTL: time.Hour})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	tel, err := telemetry.New(ctx, telemetry.Config{Version: version})
	if err != nil {
		return err
	}
	dbPath := filepath.Join(dir, "members.db")
	svcCtx, stopSvc := context.WithCancel(ctx)
	svcDone := make(chan error, 1)
	go func() {
		svcDone <- members.Run(svcCtx, members.Config{HTTPAddr: ln.Addr().String(), DatabaseURL: dbPath, KafkaBrokers: brokers, Communities: []string{"demo"},
			Auth: auth.TokenConfig{Issuer: issuer.URL(), Audience: "kinship"}},
			members.Deps{Logger: slog.New(slog.DiscardHandler), Tracer: tel.TracerProvider("kinship-members"), Listener: ln})
	}()
	defer func() { stopSvc(); <-svcDone }()
	base := "http://" + ln.Addr().String()
	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := serve.WaitReady(readyCtx, base); err != nil {
		return fmt.Errorf("bench: %w", err)
	}

	client := membersv1connect.NewMembersServiceClient(rpc.HTTPClient(30*time.Second), base,
		connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(organiser))))
	logger.Info("benchmark running", "benchmark", "join", "requests", *requests, "concurrency", *concurrency)
	res, err := loadJoin(ctx, client, *requests, *concurrency)
	if err != nil {
		return err
	}
	res.drain, err = waitDrained(ctx, dbPath, res.end)
	if err != nil {
		return err
	}
	report := res.markdown(*requests, *concurrency)
	fmt.Fprint(stdout, report)
	if *out != "" {
		return replaceSection(*out, "join", report)
	}
	return nil
}

type joinResult struct {
	latencies  []time.Duration
	start, end time.Time
	errors     int
	drain      time.Duration
}

func loadJoin(ctx context.Context, client membersv1connect.MembersServiceClient, n, concurrency int) (*joinResult, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var failures atomic.Int64
	var firstErr error
	res := &joinResult{latencies: make([]time.Duration, 0, n), start: time.Now()}
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			local := make([]time.Duration, 0, n/concurrency+1)
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(n) {
					break
				}
				t0 := time.Now()
				_, err := client.JoinCommunity(ctx, connect.NewRequest(&membersv1.JoinCommunityRequest{
					Community: "demo", Email: fmt.Sprintf("bench-%d@example.org", i), DisplayName: "Bench Member",
					Interests: []string{"solar", "climate"}, EmailConsent: i%2 == 0,
				}))
				if err != nil {
					failures.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.end = time.Now()
	res.errors = int(failures.Load())
	if res.errors > 0 {
		return nil, fmt.Errorf("bench: %d joins failed; first: %w", res.errors, firstErr)
	}
	return res, ctx.Err()
}

// waitDrained waits until the outbox has published everything and returns
// how long after the last accepted join that happened.
func waitDrained(ctx context.Context, dbPath string, end time.Time) (time.Duration, error) {
	d, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, err
	}
	defer d.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var pending int
		if err := d.QueryRowContext(ctx, "SELECT count(*) FROM outbox WHERE published_at IS NULL").Scan(&pending); err != nil {
			return 0, fmt.Errorf("bench: count pending events: %w", err)
		}
		if pending == 0 {
			return time.Since(end), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("bench: %d events still unpublished after 2 minutes", pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *joinResult) markdown(n, concurrency int) string {
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration { return r.latencies[int(p*float64(len(r.latencies)-1))] }
	wall := r.end.Sub(r.start)
	var b strings.Builder
	fmt.Fprintf(&b, "### JoinCommunity on SQLite\n\n")
	fmt.Fprintf(&b, "`make bench` (`kinship bench join -requests %d -concurrency %d`), %s, %s/%s, %d CPUs, %s.\n\n",
		n, concurrency, r.start.UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(&b, "| joins | clients | accepted/s | p50 | p90 | p99 | max | all events on Kafka after |\n")
	fmt.Fprintf(&b, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	fmt.Fprintf(&b, "| %d | %d | %.0f | %s | %s | %s | %s | %s |\n\n", n, concurrency, float64(n)/wall.Seconds(),
		ms(pct(0.50)), ms(pct(0.90)), ms(pct(0.99)), ms(r.latencies[len(r.latencies)-1]), ms(r.drain))
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// replaceSection puts body between the <!-- bench:name --> markers of
// path, or appends it with markers when they are missing.
func replaceSection(path, name, body string) error {
	start, end := "<!-- bench:"+name+":start -->", "<!-- bench:"+name+":end -->"
	raw, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	doc := string(raw)
	section := start + "\n" + body + end
	i, j := strings.Index(doc, start), strings.Index(doc, end)
	if i >= 0 && j > i {
		doc = doc[:i] + section + doc[j+len(end):]
	} else {
		doc = strings.TrimRight(doc, "\n") + "\n\n" + section + "\n"
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
