//go:build !nodev

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
)

// benchProcess is a kinship process the stack benchmark started.
type benchProcess struct {
	cmd     *exec.Cmd
	exited  chan error
	stderr  *strings.Builder
	started time.Time
	banner  <-chan time.Time
}

// startBenchProcess runs binary with args and env added to ours.
func startBenchProcess(ctx context.Context, binary string, env []string, args ...string) (*benchProcess, error) {
	p := &benchProcess{cmd: exec.CommandContext(ctx, binary, args...), exited: make(chan error, 1), stderr: &strings.Builder{}}
	p.cmd.Env = append(os.Environ(), append([]string{"OTEL_EXPORTER_OTLP_ENDPOINT="}, env...)...)
	p.cmd.Stderr = &limitedWriter{w: p.stderr, left: 64 << 10}
	// `kinship dev` prints its banner once every part answers.
	banner := make(chan time.Time, 1)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.banner = banner
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Kinship is running.") {
				banner <- time.Now()
			}
		}
	}()
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(syscall.SIGTERM) }
	p.cmd.WaitDelay = 30 * time.Second
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start kinship %s: %w", args[0], err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	return p, nil
}

// untilBanner waits for `kinship dev`'s banner and returns the time from
// the start.
func (p *benchProcess) untilBanner(within time.Duration) (time.Duration, error) {
	select {
	case at := <-p.banner:
		return at.Sub(p.started), nil
	case <-time.After(within):
		return 0, fmt.Errorf("bench: kinship dev printed no banner within %s\n%s", within, p.stderr.String())
	}
}

// stop asks the process to stop and waits for it.
func (p *benchProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.exited
}

// waitReady waits for base's /readyz and returns the time since the start.
func (p *benchProcess) waitReady(ctx context.Context, base string) (time.Duration, error) {
	readyCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- serve.WaitReady(readyCtx, base) }()
	select {
	case err := <-errc:
		if err != nil {
			return 0, fmt.Errorf("bench: %s: %w\n%s", p.cmd.Args[1], err, p.stderr.String())
		}
		return time.Since(p.started), nil
	case err := <-p.exited:
		cancel()
		return 0, fmt.Errorf("bench: kinship %s exited before it was ready: %v\n%s", p.cmd.Args[1], err, p.stderr.String())
	}
}

// benchDevPorts are the ports of one `kinship dev`, fixed so a restart on
// the same data folder listens where the first start did.
type benchDevPorts map[string]int

func newBenchDevPorts() (benchDevPorts, error) {
	ports := benchDevPorts{}
	for _, name := range []string{"members", "communications", "events", "partners", "insights", "worker", "temporal", "kafka", "smtp", "mail",
		"issuer", "console", "traces", "temporal-ui"} {
		p, err := freeLoopbackPort()
		if err != nil {
			return nil, err
		}
		ports[name] = p
	}
	return ports, nil
}

func (p benchDevPorts) args(dataDir string) []string {
	args := []string{"dev", "-data-dir", dataDir}
	for name, port := range p {
		args = append(args, "-"+name+"-port", strconv.Itoa(port))
	}
	return args
}

func (p benchDevPorts) url(name string) string { return "http://127.0.0.1:" + strconv.Itoa(p[name]) }

// startDev starts `kinship dev` on dataDir and returns it with the time
// from the start to its first accepted join.
func startDev(ctx context.Context, ports benchDevPorts, dataDir string) (*benchProcess, time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, 0, err
	}
	p, err := startBenchProcess(ctx, self, []string{"LOG_LEVEL=warn"}, ports.args(dataDir)...)
	if err != nil {
		return nil, 0, err
	}
	// A public join, as anyone's: accepted means the member was stored.
	client := membersv1connect.NewMembersServiceClient(&http.Client{Timeout: 5 * time.Second}, ports.url("members"))
	deadline := time.Now().Add(3 * time.Minute)
	for i := 0; ; i++ {
		_, err := client.JoinCommunity(ctx, connect.NewRequest(joinRequest(fmt.Sprintf("probe-%d-%d", time.Now().UnixNano(), i), i, "demo")))
		if err == nil {
			return p, time.Since(p.started), nil
		}
		select {
		case err := <-p.exited:
			return nil, 0, fmt.Errorf("bench: kinship dev exited: %v\n%s", err, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, 0, fmt.Errorf("bench: kinship dev accepted no join within 3 minutes: %v\n%s", err, p.stderr.String())
		}
	}
}

// benchStack measures the embedded stack (`kinship dev` as its own
// process) and each production component: cold and warm starts to the
// first accepted join, resident memory idle and under joins, and each
// component's start to ready and idle memory.
func benchStack(ctx context.Context, joins, concurrency int, componentBinary string, logger *slog.Logger) (string, error) {
	dir, err := os.MkdirTemp("", "kinship-bench-stack-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	dataDir := filepath.Join(dir, "dev")
	ports, err := newBenchDevPorts()
	if err != nil {
		return "", err
	}
	start := time.Now()

	logger.Info("stack benchmark: kinship dev from an empty data folder")
	dev, cold, err := startDev(ctx, ports, dataDir)
	if err != nil {
		return "", err
	}
	coldLoad := benchLoad()
	coldAll, err := dev.untilBanner(2 * time.Minute)
	if err != nil {
		dev.stop()
		return "", err
	}
	time.Sleep(5 * time.Second)
	idle := rss(dev.cmd.Process.Pid, "VmRSS")
	idleLoad := benchLoad()
	token, err := os.ReadFile(filepath.Join(dataDir, "tokens", "demo-organiser.jwt"))
	if err != nil {
		dev.stop()
		return "", fmt.Errorf("bench: the organiser's token: %w", err)
	}
	members := membersv1connect.NewMembersServiceClient(rpc.HTTPClient(0), ports.url("members"),
		connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(strings.TrimSpace(string(token))))))
	var peak atomic.Int64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	go func() {
		for sampleCtx.Err() == nil {
			if v := rss(dev.cmd.Process.Pid, "VmRSS"); v > peak.Load() {
				peak.Store(v)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	logger.Info("stack benchmark: joins against kinship dev", "joins", joins)
	res, err := loadJoin(ctx, members, joins, concurrency)
	stopSampling()
	loadLoad := benchLoad()
	dev.stop()
	if err != nil {
		return "", err
	}
	joinRate := float64(joins) / res.end.Sub(res.start).Seconds()

	logger.Info("stack benchmark: kinship dev from the existing data folder")
	dev, warm, err := startDev(ctx, ports, dataDir)
	if err != nil {
		return "", err
	}
	warmLoad := benchLoad()
	defer dev.stop()
	warmAll, err := dev.untilBanner(2 * time.Minute)
	if err != nil {
		return "", err
	}

	binaryNote := "the image's binary, built here with `go build -tags nodev` (no development commands)"
	if componentBinary == "" {
		logger.Info("stack benchmark: building the production binary (-tags nodev)")
		if componentBinary, err = buildNodev(ctx, dir); err != nil {
			logger.Warn("stack benchmark: cannot build the production binary; the components run from this one", "error", err)
			if componentBinary, err = os.Executable(); err != nil {
				return "", err
			}
			binaryNote = "this binary (with the development commands): the production build failed here"
		}
	} else {
		binaryNote = "`" + componentBinary + "`"
	}

	logger.Info("stack benchmark: each production component beside the dev stack")
	comps, err := benchComponents(ctx, componentBinary, dir, dataDir, ports)
	if err != nil {
		return "", err
	}

	var b strings.Builder
	benchHeader(&b, "The embedded stack and each component: start and memory", fmt.Sprintf("kinship bench stack -requests %d -concurrency %d", joins, concurrency), start)
	fmt.Fprintf(&b, "Targets: `kinship dev` accepts joins < 3 s after it starts, from an empty data folder and from an existing one; "+
		"each component is ready < 3 s after it starts; the whole embedded stack stays < 400 MB resident, idle and under joins; "+
		"each production component < 60 MB idle. Every figure is of a process this benchmark started (`kinship dev` from this "+
		"binary, the components as below), read from /proc (VmRSS). \"Accepting joins\" is the first public JoinCommunity "+
		"the members API accepts, probed every 10 ms from the start of the process; an empty data folder includes creating "+
		"every database, Temporal's schema and namespace, the broker's topics and the seeded demo community. \"Idle\" is 5 s after "+
		"the first accepted join (the stack's consumers, relays and Temporal's pollers still run). Under joins: %d joins from %d "+
		"clients as the organiser (%.0f/s; each starts an onboarding journey and its welcome e-mail), peak RSS sampled every 50 ms. "+
		"\"Every part ready\" is when `kinship dev` prints its banner (Temporal, the broker, every service, the worker, the console "+
		"answering). Components run from %s, one at a time beside a warm `kinship dev` (its broker, Temporal and issuer), each on "+
		"a fresh SQLite database and serving a community of its own (`bench-idle`, its namespace registered first) in which nothing "+
		"happens; ready is its /readyz answering 200, idle RSS 3 s later, split into anonymous memory (heap, "+
		"stacks) and file-backed pages (the binary's code and data mapped in). Load is the one-minute load average then.\n\n",
		joins, concurrency, joinRate, binaryNote)
	fmt.Fprintf(&b, "| process | measure | value | target | met | load |\n| --- | --- | ---: | ---: | :---: | ---: |\n")
	fmt.Fprintf(&b, "| kinship dev | start to accepting joins, empty data folder | %.2f s | 3 s | %s | %s |\n", cold.Seconds(), yes(cold < 3*time.Second), coldLoad)
	fmt.Fprintf(&b, "| kinship dev | start to every part ready, empty data folder | %.2f s | 3 s | %s | %s |\n", coldAll.Seconds(), yes(coldAll < 3*time.Second), coldLoad)
	fmt.Fprintf(&b, "| kinship dev | start to accepting joins, existing data folder | %.2f s | 3 s | %s | %s |\n", warm.Seconds(), yes(warm < 3*time.Second), warmLoad)
	fmt.Fprintf(&b, "| kinship dev | start to every part ready, existing data folder | %.2f s | 3 s | %s | %s |\n", warmAll.Seconds(), yes(warmAll < 3*time.Second), warmLoad)
	fmt.Fprintf(&b, "| kinship dev | RSS idle | %d MB | 400 MB | %s | %s |\n", idle>>20, yes(idle < 400<<20), idleLoad)
	fmt.Fprintf(&b, "| kinship dev | peak RSS under joins | %d MB | 400 MB | %s | %s |\n", peak.Load()>>20, yes(peak.Load() < 400<<20), loadLoad)
	for _, c := range comps {
		fmt.Fprintf(&b, "| kinship %s | start to ready | %.2f s | 3 s | %s | %s |\n", c.name, c.ready.Seconds(), yes(c.ready < 3*time.Second), c.load)
		fmt.Fprintf(&b, "| kinship %s | RSS idle | %d MB | 60 MB | %s | %s |\n", c.name, c.idle>>20, yes(c.idle < 60<<20), c.load)
		fmt.Fprintf(&b, "| kinship %s | of it anonymous (heap, stacks) | %d MB | – | – | %s |\n", c.name, c.anon>>20, c.load)
		fmt.Fprintf(&b, "| kinship %s | of it file-backed (the binary's pages) | %d MB | – | – | %s |\n", c.name, c.file>>20, c.load)
	}
	b.WriteString("\n")
	return b.String(), nil
}

// benchComponentResult is one production component's start and memory.
type benchComponentResult struct {
	name  string
	ready time.Duration
	idle  int64
	anon  int64
	file  int64
	load  string
}

// benchComponents starts each production component in turn beside the
// running dev stack, on its own SQLite database, and measures it.
func benchComponents(ctx context.Context, binary, dir, dataDir string, ports benchDevPorts) ([]benchComponentResult, error) {
	issuerURL := ports.url("issuer")
	// The dev stack's issuer keys sign the components' workload tokens.
	issuer, err := localissuer.New(issuerURL, filepath.Join(dataDir, "issuer-keys.json"))
	if err != nil {
		return nil, err
	}
	// The components serve a community of their own, in a namespace of
	// its own, so that idle means idle: with the dev stack's community
	// they would share its task queues and consumer groups and take
	// part of its work while they are measured.
	if err := registerIdleNamespace(ctx, "127.0.0.1:"+strconv.Itoa(ports["temporal"])); err != nil {
		return nil, err
	}
	common := []string{"KINSHIP_COMMUNITIES=" + benchIdleCommunity, "KAFKA_BROKERS=127.0.0.1:" + strconv.Itoa(ports["kafka"]), "AUTH_ISSUER=" + issuerURL,
		"AUTH_AUDIENCE=kinship", "AUTH_WORKLOAD_AUDIENCE=kinship-workload",
		"AUTH_WORKLOAD_SUBJECTS=kinship-worker,kinship-communications,kinship-events,kinship-partners,kinship-insights",
		"LOG_LEVEL=warn"}
	if err := os.WriteFile(filepath.Join(dir, "unsubscribe-key"), []byte("bench-unsubscribe-key-of-32-bytes-or-more"), 0o600); err != nil {
		return nil, err
	}
	components := []struct {
		name string
		env  []string
	}{
		{"members", nil},
		{"communications", []string{"SMTP_URL=smtp://127.0.0.1:" + strconv.Itoa(ports["smtp"]), "SMTP_FROM=Kinship <no-reply@kinship.bench>",
			"KINSHIP_MEMBERS_URL=" + ports.url("members"), "KINSHIP_PUBLIC_URL=http://127.0.0.1:1",
			"KINSHIP_UNSUBSCRIBE_KEY_FILE=" + filepath.Join(dir, "unsubscribe-key")}},
		{"events", []string{"KINSHIP_MEMBERS_URL=" + ports.url("members"), "KINSHIP_PARTNERS_URL=" + ports.url("partners"),
			"KINSHIP_EVENTS_PUBLIC_URL=http://127.0.0.1:1"}},
		{"partners", []string{"KINSHIP_MEMBERS_URL=" + ports.url("members"), "KINSHIP_EVENTS_URL=" + ports.url("events"),
			"KINSHIP_COMMUNICATIONS_URL=" + ports.url("communications")}},
		{"worker", []string{"TEMPORAL_ADDRESS=127.0.0.1:" + strconv.Itoa(ports["temporal"]), "KINSHIP_MEMBERS_URL=" + ports.url("members"),
			"KINSHIP_COMMUNICATIONS_URL=" + ports.url("communications"), "KINSHIP_EVENTS_URL=" + ports.url("events"),
			"KINSHIP_PARTNERS_URL=" + ports.url("partners"), "KINSHIP_DIGEST_SCHEDULE=off"}},
	}
	var out []benchComponentResult
	for _, c := range components {
		token, err := issuer.Mint(localissuer.Claims{Subject: "kinship-" + c.name, Audience: "kinship-workload", TTL: time.Hour})
		if err != nil {
			return nil, err
		}
		tokenFile := filepath.Join(dir, c.name+".token")
		if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
			return nil, err
		}
		port, err := freeLoopbackPort()
		if err != nil {
			return nil, err
		}
		env := append(append([]string{}, common...), c.env...)
		env = append(env, "KINSHIP_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port), "DATABASE_URL="+filepath.Join(dir, c.name+".db"),
			"KINSHIP_WORKLOAD_TOKEN_FILE="+tokenFile)
		p, err := startBenchProcess(ctx, binary, env, c.name)
		if err != nil {
			return nil, err
		}
		ready, err := p.waitReady(ctx, "http://127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			p.stop()
			return nil, err
		}
		time.Sleep(3 * time.Second)
		pid := p.cmd.Process.Pid
		res := benchComponentResult{name: c.name, ready: ready, idle: rss(pid, "VmRSS"), anon: rss(pid, "RssAnon"), file: rss(pid, "RssFile"), load: benchLoad()}
		p.stop()
		out = append(out, res)
	}
	return out, nil
}

// benchIdleCommunity is the community the measured components serve:
// nothing happens in it.
const benchIdleCommunity = "bench-idle"

// registerIdleNamespace registers benchIdleCommunity's namespace on the
// dev stack's Temporal, as the operator does for a community.
func registerIdleNamespace(ctx context.Context, hostPort string) error {
	nc, err := client.NewNamespaceClient(client.Options{HostPort: hostPort, Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return fmt.Errorf("bench: temporal namespace client: %w", err)
	}
	defer nc.Close()
	err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: benchIdleCommunity, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("bench: register namespace %s: %w", benchIdleCommunity, err)
	}
	return nil
}

// buildNodev builds the binary the images ship (`-tags nodev`) into dir,
// from the module this benchmark runs in.
func buildNodev(ctx context.Context, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	out := filepath.Join(dir, "kinship-nodev")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "nodev", "-o", out, "./cmd/kinship")
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build -tags nodev: %w\n%s", err, stderr.String())
	}
	return out, nil
}
