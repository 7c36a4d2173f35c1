//go:build !nodev

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/kafka/devbroker"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/services/members"
	"github.com/kinshiphq/kinship/services/members/events"
)

// runBench runs the members benchmarks on the embedded defaults — the
// members service on SQLite, its outbox relaying to the in-process broker,
// called over HTTP from the same process — and writes their sections of
// the -out markdown file.
func runBench(ctx context.Context, args []string, logger *slog.Logger, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("bench: name a benchmark (join, import, segments, announce, rsvp, journeys, e2e, outbox, stack, console, insights, ingest, telemetry, all, record, or compare): %w", errUsage)
	}
	which := args[0]
	switch which {
	case "record":
		return recordBench(args[1:], os.Stdin, stdout)
	case "compare":
		return compareBench(args[1:], stdout)
	}
	fs := flag.NewFlagSet("kinship bench "+which, flag.ContinueOnError)
	requests := fs.Int("requests", 5000, "joins to send (join)")
	concurrency := fs.Int("concurrency", 8, "clients sending at once (join)")
	rows := fs.Int("rows", 100_000, "rows to import (import, segments, console)")
	recipients := fs.Int("members", 100_000, "members the announcement reaches (announce)")
	rounds := fs.Int("rounds", 3, "rounds of 1,000 RSVPs per shape (rsvp)")
	journeys := fs.Int("journeys", 10_000, "onboarding journeys a cohort start starts (journeys)")
	insightsMembers := fs.Int("insights-members", 100_000, "members whose history the insights service rebuilds (insights)")
	activities := fs.Int("activities", 2_000_000, "activities of their ledger (insights)")
	joinRate := fs.Int("join-rate", 2000, "joins published a second while the projection's lag is measured (insights)")
	ingestMembers := fs.Int("ingest-members", 100_000, "members the ingested activities name, and whose levels are recomputed (ingest)")
	ingestActivities := fs.Int("ingest-activities", 200_000, "activities posted in batched deliveries (ingest)")
	ingestBatch := fs.Int("ingest-batch", 100, "activities per batched delivery (ingest)")
	ingestSingle := fs.Int("ingest-single", 10_000, "activities posted one per delivery (ingest)")
	outboxEvents := fs.Int("outbox-events", 20_000, "events committed to the outbox and relayed (outbox)")
	e2eJoins := fs.Int("e2e-joins", 300, "joins carried to their welcome e-mail (e2e)")
	componentBinary := fs.String("component-binary", "", "binary the components run from (stack); empty builds one with -tags nodev")
	spans := fs.Int("spans", 100_000, "spans the dev trace store is filled with and weighed (telemetry)")
	out := fs.String("out", "", "markdown file whose benchmark sections are replaced with the results")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *requests < 1 || *concurrency < 1 || *rows < 1 || *recipients < 1 || *rounds < 1 || *journeys < 1 {
		return errors.New("bench: -requests, -concurrency, -rows, -members, -rounds and -journeys must be positive")
	}
	run := map[string]bool{}
	switch which {
	case "all":
		for _, name := range benchNames() {
			run[name] = true
		}
	case "join", "import", "segments", "announce", "rsvp", "journeys", "e2e", "outbox", "stack", "console", "insights", "ingest", "telemetry":
		run[which] = true
	default:
		return fmt.Errorf("bench: unknown benchmark %q: %w", which, errUsage)
	}
	sections := map[string]string{}
	if run["join"] {
		body, err := benchJoinFloor(ctx, *requests, *concurrency, logger)
		if err != nil {
			return err
		}
		sections["join"] = body
	}
	if run["import"] || run["segments"] {
		env, err := startBenchEnv(ctx, logger)
		if err != nil {
			return err
		}
		imp, err := benchImport(ctx, env, *rows)
		if err == nil && run["segments"] {
			sections["segments"], err = benchSegments(ctx, env, *rows)
		}
		env.stop()
		if err != nil {
			return err
		}
		if run["import"] {
			sections["import"] = imp
		}
	}
	if run["announce"] {
		body, err := benchAnnounce(ctx, *recipients, logger)
		if err != nil {
			return err
		}
		sections["announce"] = body
	}
	if run["rsvp"] {
		body, err := benchRSVP(ctx, *rounds, logger)
		if err != nil {
			return err
		}
		sections["rsvp"] = body
	}
	if run["journeys"] {
		body, err := benchJourneys(ctx, *journeys, logger)
		if err != nil {
			return err
		}
		sections["journeys"] = body
	}
	if run["e2e"] {
		if *e2eJoins < 1 {
			return errors.New("bench: -e2e-joins must be positive")
		}
		body, err := benchJourneysE2E(ctx, *e2eJoins, logger)
		if err != nil {
			return err
		}
		sections["e2e"] = body
	}
	if run["outbox"] {
		if *outboxEvents < 1 {
			return errors.New("bench: -outbox-events must be positive")
		}
		body, err := benchOutbox(ctx, *outboxEvents, logger)
		if err != nil {
			return err
		}
		sections["outbox"] = body
	}
	if run["stack"] {
		body, err := benchStack(ctx, *requests, *concurrency, *componentBinary, logger)
		if err != nil {
			return err
		}
		sections["stack"] = body
	}
	if run["console"] {
		body, err := benchConsole(ctx, *rows, logger)
		if err != nil {
			return err
		}
		sections["console"] = body
	}
	if run["insights"] {
		if *insightsMembers < 1 || *activities < *insightsMembers || *joinRate < 100 {
			return errors.New("bench: -insights-members must be positive, -activities at least as many, -join-rate at least 100")
		}
		body, err := benchInsights(ctx, insightsBench{members: *insightsMembers, activities: *activities, joinRate: *joinRate,
			joinFor: 20 * time.Second, repeats: 20}, logger)
		if err != nil {
			return err
		}
		sections["insights"] = body
	}
	if run["ingest"] {
		if *ingestMembers < 1 || *ingestActivities < 1 || *ingestBatch < 1 || *ingestSingle < 1 || *concurrency < 1 {
			return errors.New("bench: -ingest-members, -ingest-activities, -ingest-batch and -ingest-single must be positive")
		}
		body, err := benchIngest(ctx, ingestBench{members: *ingestMembers, activities: *ingestActivities, batch: *ingestBatch,
			single: *ingestSingle, clients: *concurrency}, logger)
		if err != nil {
			return err
		}
		sections["ingest"] = body
	}
	if run["telemetry"] {
		if *spans < 1 {
			return errors.New("bench: -spans must be positive")
		}
		body, err := benchTelemetry(ctx, telemetryBench{requests: *requests, concurrency: *concurrency, rounds: *rounds, spans: *spans}, logger)
		if err != nil {
			return err
		}
		sections["telemetry"] = body
	}
	for _, name := range benchNames() {
		if body, ok := sections[name]; ok {
			fmt.Fprint(stdout, body)
			if *out != "" {
				if err := replaceSection(*out, name, body); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// benchNames are the benchmarks `kinship bench all` runs, in the order
// their sections are printed.
func benchNames() []string {
	return []string{"join", "import", "segments", "announce", "rsvp", "journeys", "e2e", "outbox", "stack", "console", "insights", "ingest", "telemetry"}
}

// benchEnv is a members service with its broker and issuer.
type benchEnv struct {
	dir     string
	dbURL   string
	issuer  string
	client  membersv1connect.MembersServiceClient
	base    string
	http    *http.Client
	token   string
	cleanup []func()
}

func startBenchEnv(ctx context.Context, logger *slog.Logger) (*benchEnv, error) {
	return startObservedBenchEnv(ctx, logger, nil)
}

// startObservedBenchEnv starts the members service on SQLite with the
// tracer, meter and logger of observed, or when it is nil with telemetry
// that goes nowhere and no logs.
func startObservedBenchEnv(ctx context.Context, logger *slog.Logger, observed *members.Deps) (*benchEnv, error) {
	return startBenchEnvOn(ctx, logger, observed, benchEngine{name: "SQLite"})
}

// startBenchEnvOn starts the members service on engine.
func startBenchEnvOn(ctx context.Context, logger *slog.Logger, observed *members.Deps, engine benchEngine) (*benchEnv, error) {
	env := &benchEnv{}
	fail := func(err error) (*benchEnv, error) {
		env.stop()
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kinship-bench-")
	if err != nil {
		return nil, err
	}
	env.dir = dir
	env.cleanup = append(env.cleanup, func() { _ = os.RemoveAll(dir) })
	broker, err := devbroker.New(0, kfake.NumBrokers(1), kfake.DefaultNumPartitions(4), kfake.AllowAutoTopicCreation())
	if err != nil {
		return fail(fmt.Errorf("bench: start broker: %w", err))
	}
	env.cleanup = append(env.cleanup, broker.Close)
	brokers := broker.ListenAddrs()
	if err := kafka.EnsureTopics(ctx, brokers, kafka.Security{}, kafka.Topic{Name: events.Topic("demo"), Partitions: 4, ReplicationFactor: 1},
		kafka.Topic{Name: "demo.events.v1", Partitions: 4, ReplicationFactor: 1}); err != nil {
		return fail(fmt.Errorf("bench: %w", err))
	}
	issuerLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	issuer, err := localissuer.New("http://"+issuerLn.Addr().String(), "")
	if err != nil {
		return fail(err)
	}
	env.issuer = issuer.URL()
	issuerSrv := &http.Server{Handler: issuer.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = issuerSrv.Serve(issuerLn) }()
	env.cleanup = append(env.cleanup, func() { _ = issuerSrv.Close() })
	// An organiser imports members: public rate limits do not apply.
	if env.token, err = issuer.Mint(localissuer.Claims{Subject: "bench", Audience: "kinship", Community: "demo", Roles: []string{"organiser"}, TTL: time.Hour}); err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	if observed == nil {
		tel, err := telemetry.New(ctx, telemetry.Config{Version: version})
		if err != nil {
			return fail(err)
		}
		observed = &members.Deps{Logger: slog.New(slog.DiscardHandler), Tracer: tel.TracerProvider("kinship-members")}
	}
	deps := *observed
	deps.Listener = ln
	if env.dbURL, err = engine.url(ctx, dir, "members"); err != nil {
		return fail(err)
	}
	svcCtx, stopSvc := context.WithCancel(ctx)
	svcDone := make(chan error, 1)
	go func() {
		svcDone <- members.Run(svcCtx, members.Config{HTTPAddr: ln.Addr().String(), DatabaseURL: env.dbURL, KafkaBrokers: brokers,
			Communities: []string{"demo"}, Auth: auth.TokenConfig{Issuer: issuer.URL(), Audience: "kinship"}},
			deps)
	}()
	env.cleanup = append(env.cleanup, func() {
		stopSvc()
		if err := <-svcDone; err != nil {
			logger.Warn("members service stopped with an error", "error", err)
		}
	})
	env.base = "http://" + ln.Addr().String()
	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := serve.WaitReady(readyCtx, env.base); err != nil {
		return fail(fmt.Errorf("bench: %w", err))
	}
	env.http = rpc.HTTPClient(0)
	env.client = membersv1connect.NewMembersServiceClient(env.http, env.base,
		connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(env.token))))
	return env, nil
}

func (env *benchEnv) stop() {
	for i := len(env.cleanup) - 1; i >= 0; i-- {
		env.cleanup[i]()
	}
}

// waitDrained waits until the outbox has published everything and returns
// how long after end that happened.
func (env *benchEnv) waitDrained(ctx context.Context, end time.Time) (time.Duration, error) {
	d, err := db.Open(ctx, env.dbURL)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var pending int
		if err := d.QueryRowContext(ctx, "SELECT count(*) FROM outbox WHERE published_at IS NULL").Scan(&pending); err != nil {
			return 0, fmt.Errorf("bench: count pending events: %w", err)
		}
		if pending == 0 {
			return time.Since(end), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("bench: %d events still unpublished after 5 minutes", pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func benchHeader(b *strings.Builder, title, command string, start time.Time) {
	fmt.Fprintf(b, "### %s\n\n`%s`, %s, %s/%s, %s, %s, commit %s, load %s at the start; service and load generator share the machine.\n\n",
		title, command, start.UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, cpuModel(), runtime.Version(), commit(), benchLoad())
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

// recordBench writes the markdown table lines read from in (benchmarks
// run elsewhere, such as the operator's on envtest) as section -name of
// -out, under a header naming the command, the day and the machine.
func recordBench(args []string, in io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("kinship bench record", flag.ContinueOnError)
	name := fs.String("name", "", "section name (the <!-- bench:NAME --> markers)")
	title := fs.String("title", "", "section title")
	command := fs.String("command", "", "command that produced the table")
	note := fs.String("note", "", "what the benchmark does and its target")
	out := fs.String("out", "", "markdown file to update")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || *title == "" || *command == "" || *out == "" {
		return errors.New("bench record: -name, -title, -command and -out are required")
	}
	raw, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	var table []string
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "|") {
			table = append(table, line)
		}
	}
	if len(table) < 3 {
		return fmt.Errorf("bench record: no markdown table in the input:\n%s", raw)
	}
	var b strings.Builder
	benchHeader(&b, *title, *command, time.Now())
	if *note != "" {
		b.WriteString(*note + "\n\n")
	}
	b.WriteString(strings.Join(table, "\n") + "\n\n")
	fmt.Fprint(stdout, b.String())
	return replaceSection(*out, *name, b.String())
}
