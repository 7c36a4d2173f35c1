//go:build !nodev

package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/emersion/go-smtp"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/otel/propagation"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/kafka/devbroker"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/services/communications/domain"
	commevents "github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// benchAnnounce sends an announcement to n members on every engine, each
// beside the ceiling of its SMTP path, and writes the table.
func benchAnnounce(ctx context.Context, n int, logger *slog.Logger) (string, error) {
	engines, stopEngines, err := benchEngines(ctx)
	if err != nil {
		return "", err
	}
	defer stopEngines()
	start := time.Now()
	var results []announceResult
	failed := 0
	for _, engine := range engines {
		res, err := announceOn(ctx, n, engine, logger)
		if err != nil {
			// Recorded as a failure, never as a figure.
			logger.Warn("the announcement failed", "engine", engine.name, "error", err)
			res, failed = announceResult{engine: engine.name, err: err, load: benchLoad()}, failed+1
		}
		results = append(results, res)
	}
	if failed == len(engines) {
		return "", results[0].err
	}
	var b strings.Builder
	benchHeader(&b, "Announcement to a segment against a raw SMTP sender, SQLite and PostgreSQL", fmt.Sprintf("kinship bench announce -members %d", n), start)
	fmt.Fprintf(&b, "Targets: 100,000 e-mails at a loopback SMTP server in < 20 s and ≥ 0.5 × the ceiling of the SMTP path; the service under "+
		"200 MB RSS. The service runs as its own `kinship communications` process (8 dispatch workers, %d SMTP connections, rate limit "+
		"lifted); the broker, the SMTP server (which counts and discards) and this client share the machine. Each e-mail is rendered "+
		"from a text+HTML template for its recipient, carries a signed one-click unsubscribe link, is rechecked for consent just "+
		"before sending, and is recorded with its MessageQueued and MessageSent events; the sink must count exactly one e-mail per "+
		"member. The ceiling, right after each announcement, sends the same number of pre-rendered messages of the same shape over "+
		"the same %d connections to the same sink from this process: no database, no template, no consent check. Load is the "+
		"one-minute load average after the row. %s\n\n", benchSMTPConnections, benchSMTPConnections, benchPostgresNote)
	fmt.Fprintf(&b, "| engine | path | e-mails | queued in | last delivered after | e-mails/s | × ceiling | peak RSS | RSS when idle | load |\n")
	fmt.Fprintf(&b, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(&b, "| %s | announcement | %d | **failed**: %s | – | – | – | – | – | %s |\n", r.engine, n,
				strings.ReplaceAll(strings.SplitN(r.err.Error(), "\n", 2)[0], "|", "/"), r.load)
			continue
		}
		rate, ceiling := float64(n)/r.took.Seconds(), float64(n)/r.ceiling.Seconds()
		fmt.Fprintf(&b, "| %s | raw SMTP, pre-rendered (ceiling) | %d | – | %.1f s | %.0f | 1.00 | – | – | %s |\n", r.engine, n, r.ceiling.Seconds(), ceiling, r.ceilingLoad)
		fmt.Fprintf(&b, "| %s | announcement | %d | %.1f s | %.1f s | %.0f | %s | %d MB | %d MB | %s |\n", r.engine, n, r.queued.Seconds(), r.took.Seconds(),
			rate, ratio(rate, ceiling), r.peak>>20, r.idle>>20, r.load)
	}
	b.WriteString("\n")
	return b.String(), nil
}

// announceResult is one engine's announcement and its ceiling.
type announceResult struct {
	engine       string
	queued, took time.Duration
	peak, idle   int64
	load         string
	ceiling      time.Duration
	ceilingLoad  string
	err          error
}

// announceOn sends an announcement to n members of the recipients
// projection through a real `kinship communications` process on engine,
// to a loopback SMTP server that counts what it receives; it reports the
// time to the last delivery and the process's peak resident memory, then
// runs the raw SMTP ceiling against the same server.
func announceOn(ctx context.Context, n int, engine benchEngine, logger *slog.Logger) (announceResult, error) {
	dir, err := os.MkdirTemp("", "kinship-bench-announce-")
	if err != nil {
		return announceResult{}, err
	}
	defer os.RemoveAll(dir)
	var cleanup []func()
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}()

	broker, err := devbroker.New(0, kfake.NumBrokers(1), kfake.DefaultNumPartitions(4), kfake.AllowAutoTopicCreation())
	if err != nil {
		return announceResult{}, fmt.Errorf("bench: start broker: %w", err)
	}
	cleanup = append(cleanup, broker.Close)
	brokers := broker.ListenAddrs()
	if err := kafka.EnsureTopics(ctx, brokers, kafka.Security{}, kafka.Topic{Name: commevents.Topic("demo"), Partitions: 4, ReplicationFactor: 1},
		kafka.Topic{Name: "demo.members.v1", Partitions: 4, ReplicationFactor: 1}); err != nil {
		return announceResult{}, fmt.Errorf("bench: %w", err)
	}

	sink := &countingSink{}
	smtpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return announceResult{}, err
	}
	smtpSrv := smtp.NewServer(sink)
	smtpSrv.Domain = "bench"
	smtpSrv.AllowInsecureAuth = true
	go func() { _ = smtpSrv.Serve(smtpLn) }()
	cleanup = append(cleanup, func() { _ = smtpSrv.Close() })

	issuerLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return announceResult{}, err
	}
	issuer, err := localissuer.New("http://"+issuerLn.Addr().String(), "")
	if err != nil {
		return announceResult{}, err
	}
	issuerSrv := &http.Server{Handler: issuer.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = issuerSrv.Serve(issuerLn) }()
	cleanup = append(cleanup, func() { _ = issuerSrv.Close() })
	workloadToken, err := issuer.Mint(localissuer.Claims{Subject: "kinship-communications", Audience: "kinship-workload", TTL: time.Hour})
	if err != nil {
		return announceResult{}, err
	}
	organiser, err := issuer.Mint(localissuer.Claims{Subject: "bench", Audience: "kinship", Community: "demo", Roles: []string{"organiser"}, TTL: time.Hour})
	if err != nil {
		return announceResult{}, err
	}

	dbPath, err := engine.url(ctx, dir, "communications")
	if err != nil {
		return announceResult{}, err
	}
	seedStart := time.Now()
	if err := seedBenchRecipients(ctx, dbPath, n); err != nil {
		return announceResult{}, err
	}
	logger.Info("recipients seeded", "engine", engine.name, "recipients", n, "took", time.Since(seedStart).Round(time.Millisecond).String())

	files := map[string]string{"token": workloadToken, "unsubscribe-key": "bench-unsubscribe-key-of-32-bytes-or-more"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return announceResult{}, err
		}
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return announceResult{}, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	self, err := os.Executable()
	if err != nil {
		return announceResult{}, err
	}
	cmd := exec.CommandContext(ctx, self, "communications")
	cmd.Env = append(os.Environ(),
		"KINSHIP_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port), "DATABASE_URL="+dbPath, "KAFKA_BROKERS="+strings.Join(brokers, ","),
		"KINSHIP_COMMUNITIES=demo", "SMTP_URL=smtp://"+smtpLn.Addr().String(), "SMTP_FROM=Kinship <no-reply@kinship.bench>",
		"AUTH_ISSUER="+issuer.URL(), "AUTH_AUDIENCE=kinship", "AUTH_WORKLOAD_SUBJECTS=kinship-communications", "AUTH_WORKLOAD_AUDIENCE=kinship-workload",
		"KINSHIP_MEMBERS_URL=http://127.0.0.1:1", "KINSHIP_PUBLIC_URL="+base,
		"KINSHIP_UNSUBSCRIBE_KEY_FILE="+filepath.Join(dir, "unsubscribe-key"), "KINSHIP_WORKLOAD_TOKEN_FILE="+filepath.Join(dir, "token"),
		"KINSHIP_QUIET_HOURS=off", "KINSHIP_EMAIL_PER_SECOND=1000000", "OTEL_EXPORTER_OTLP_ENDPOINT=")
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &limitedWriter{w: &stderr, left: 64 << 10}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	if err := cmd.Start(); err != nil {
		return announceResult{}, fmt.Errorf("bench: start kinship communications: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-exited
		}
	}
	defer stop()
	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := serve.WaitReady(readyCtx, base); err != nil {
		return announceResult{}, fmt.Errorf("bench: communications did not become ready: %w\n%s", err, stderr.String())
	}
	idleRSS := rss(cmd.Process.Pid, "VmRSS")

	client := rpc.HTTPClient(0)
	bearer := connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(organiser)))
	templates := communicationsv1connect.NewTemplatesServiceClient(client, base, bearer)
	if _, err := templates.SaveTemplate(ctx, connect.NewRequest(&communicationsv1.SaveTemplateRequest{Community: "demo", Name: "news",
		Variants: []*communicationsv1.TemplateVariant{{
			Subject:  "News from {{.Community}} for {{.Member.DisplayName}}",
			TextBody: "Hello {{.Member.DisplayName}},\n\nThe repair café opens on Saturday.\n\nUnsubscribe: {{.UnsubscribeURL}}\n",
			HtmlBody: `<p>Hello {{.Member.DisplayName}},</p><p>The repair café opens on Saturday.</p><p><a href="{{.UnsubscribeURL}}">Unsubscribe</a></p>`,
		}}})); err != nil {
		return announceResult{}, fmt.Errorf("bench: save template: %w", err)
	}

	var peak atomic.Int64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go func() {
		for sampleCtx.Err() == nil {
			if v := rss(cmd.Process.Pid, "VmRSS"); v > peak.Load() {
				peak.Store(v)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	announcements := communicationsv1connect.NewAnnouncementsServiceClient(client, base, bearer)
	start := time.Now()
	res, err := announcements.CreateAnnouncement(ctx, connect.NewRequest(&communicationsv1.CreateAnnouncementRequest{
		Community: "demo", Template: "news", IdempotencyKey: "bench"}))
	if err != nil {
		return announceResult{}, fmt.Errorf("bench: create announcement: %w", err)
	}
	queued := time.Since(start)
	if got := res.Msg.GetAnnouncement().GetRecipients(); got != int64(n) {
		return announceResult{}, fmt.Errorf("bench: announcement reaches %d of %d members", got, n)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for sink.count.Load() < int64(n) {
		if time.Now().After(deadline) {
			return announceResult{}, fmt.Errorf("bench: %d of %d e-mails after 10 minutes", sink.count.Load(), n)
		}
		select {
		case err := <-exited:
			stopped = true
			return announceResult{}, fmt.Errorf("bench: kinship communications exited: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	took := sink.lastAt().Sub(start)
	stopSampling()
	hwm := max(rss(cmd.Process.Pid, "VmHWM"), peak.Load())
	stop()
	if got := sink.count.Load(); got != int64(n) {
		return announceResult{}, fmt.Errorf("bench: the sink counted %d e-mails for %d members, want exactly one each", got, n)
	}
	out := announceResult{engine: engine.name, queued: queued, took: took, peak: hwm, idle: idleRSS, load: benchLoad()}
	logger.Info("the ceiling: raw SMTP", "engine", engine.name, "messages", n)
	if out.ceiling, err = benchRawSMTP(ctx, smtpLn.Addr().String(), sink, n, benchSMTPConnections); err != nil {
		return announceResult{}, err
	}
	out.ceilingLoad = benchLoad()
	return out, nil
}

// seedBenchRecipients fills the recipients projection as the members.v1
// consumer would, in a few large transactions.
func seedBenchRecipients(ctx context.Context, path string, n int) error {
	d, err := db.Open(ctx, path)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := db.Migrate(ctx, d, slog.New(slog.DiscardHandler), outbox.Migrations(), inbox.Migrations(), audit.Migrations(), store.Migrations()); err != nil {
		return err
	}
	s := store.New(d, outbox.New(d, propagation.TraceContext{}))
	joined := time.Now().UTC().Add(-24 * time.Hour)
	for start := 0; start < n; start += 10_000 {
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			for i := start; i < min(start+10_000, n); i++ {
				r := domain.Recipient{MemberID: fmt.Sprintf("m%07d", i), Community: "demo", Email: fmt.Sprintf("member%07d@example.org", i),
					DisplayName: fmt.Sprintf("Member %d", i), Status: "active", Locale: "en", TimeZone: "Europe/Berlin", JoinedAt: joined,
					Interests: []string{"repair"}, Consents: []string{domain.PurposeAnnouncements}, EmailVerified: true}
				if err := s.PutRecipient(ctx, tx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("bench: seed recipients: %w", err)
		}
	}
	return nil
}

// rss reads a memory figure of process pid from /proc, in bytes; 0 when
// unavailable.
func rss(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// countingSink is an SMTP backend that counts delivered messages and
// discards them.
type countingSink struct {
	count atomic.Int64
	mu    sync.Mutex
	last  time.Time
}

func (c *countingSink) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &countingSession{sink: c}, nil
}

func (c *countingSink) lastAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

type countingSession struct {
	sink *countingSink
	rcpt int
}

func (s *countingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *countingSession) Rcpt(string, *smtp.RcptOptions) error { s.rcpt++; return nil }
func (s *countingSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.sink.mu.Lock()
	s.sink.last = time.Now()
	s.sink.mu.Unlock()
	s.sink.count.Add(int64(s.rcpt))
	return nil
}
func (s *countingSession) Reset()        { s.rcpt = 0 }
func (s *countingSession) Logout() error { return nil }

// limitedWriter keeps the first bytes written to it.
type limitedWriter struct {
	mu   sync.Mutex
	w    io.Writer
	left int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.left > 0 {
		k := min(len(p), l.left)
		l.left -= k
		_, _ = l.w.Write(p[:k])
	}
	return len(p), nil
}
