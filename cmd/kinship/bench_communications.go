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
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/services/communications/domain"
	commevents "github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// benchAnnounce sends an announcement to n members of the recipients
// projection through a real `kinship communications` process, on SQLite,
// to a loopback SMTP server that counts what it receives; it reports the
// time to the last delivery and the process's peak resident memory.
func benchAnnounce(ctx context.Context, n int, logger *slog.Logger) (string, error) {
	dir, err := os.MkdirTemp("", "kinship-bench-announce-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	var cleanup []func()
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}()

	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(4), kfake.AllowAutoTopicCreation())
	if err != nil {
		return "", fmt.Errorf("bench: start broker: %w", err)
	}
	cleanup = append(cleanup, broker.Close)
	brokers := broker.ListenAddrs()
	if err := kafka.EnsureTopics(ctx, brokers, kafka.Security{}, kafka.Topic{Name: commevents.Topic("demo"), Partitions: 4, ReplicationFactor: 1},
		kafka.Topic{Name: "demo.members.v1", Partitions: 4, ReplicationFactor: 1}); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}

	sink := &countingSink{}
	smtpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	smtpSrv := smtp.NewServer(sink)
	smtpSrv.Domain = "bench"
	smtpSrv.AllowInsecureAuth = true
	go func() { _ = smtpSrv.Serve(smtpLn) }()
	cleanup = append(cleanup, func() { _ = smtpSrv.Close() })

	issuerLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	issuer, err := localissuer.New("http://"+issuerLn.Addr().String(), "")
	if err != nil {
		return "", err
	}
	issuerSrv := &http.Server{Handler: issuer.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = issuerSrv.Serve(issuerLn) }()
	cleanup = append(cleanup, func() { _ = issuerSrv.Close() })
	workloadToken, err := issuer.Mint(localissuer.Claims{Subject: "kinship-communications", Audience: "kinship-workload", TTL: time.Hour})
	if err != nil {
		return "", err
	}
	organiser, err := issuer.Mint(localissuer.Claims{Subject: "bench", Audience: "kinship", Community: "demo", Roles: []string{"organiser"}, TTL: time.Hour})
	if err != nil {
		return "", err
	}

	dbPath := filepath.Join(dir, "communications.db")
	seedStart := time.Now()
	if err := seedBenchRecipients(ctx, dbPath, n); err != nil {
		return "", err
	}
	logger.Info("recipients seeded", "recipients", n, "took", time.Since(seedStart).Round(time.Millisecond).String())

	files := map[string]string{"token": workloadToken, "unsubscribe-key": "bench-unsubscribe-key-of-32-bytes-or-more"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return "", err
		}
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return "", err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	self, err := os.Executable()
	if err != nil {
		return "", err
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
		return "", fmt.Errorf("bench: start kinship communications: %w", err)
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
		return "", fmt.Errorf("bench: communications did not become ready: %w\n%s", err, stderr.String())
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
		return "", fmt.Errorf("bench: save template: %w", err)
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
		return "", fmt.Errorf("bench: create announcement: %w", err)
	}
	queued := time.Since(start)
	if got := res.Msg.GetAnnouncement().GetRecipients(); got != int64(n) {
		return "", fmt.Errorf("bench: announcement reaches %d of %d members", got, n)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for sink.count.Load() < int64(n) {
		if time.Now().After(deadline) {
			return "", fmt.Errorf("bench: %d of %d e-mails after 10 minutes", sink.count.Load(), n)
		}
		select {
		case err := <-exited:
			stopped = true
			return "", fmt.Errorf("bench: kinship communications exited: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	took := sink.lastAt().Sub(start)
	stopSampling()
	hwm := max(rss(cmd.Process.Pid, "VmHWM"), peak.Load())
	stop()

	var b strings.Builder
	benchHeader(&b, "Announcement to a segment on SQLite", fmt.Sprintf("kinship bench announce -members %d", n), start)
	fmt.Fprintf(&b, "Target: 100,000 e-mails at a loopback SMTP server in < 30 s, the service under 200 MB RSS. The service runs as its own "+
		"`kinship communications` process (SQLite, 8 dispatch workers, 4 SMTP connections, rate limit lifted); the broker, the SMTP server "+
		"(which counts and discards) and this client share the machine. Each e-mail is rendered from a text+HTML template for its recipient, "+
		"carries a signed one-click unsubscribe link, is rechecked for consent just before sending, and is recorded with its MessageQueued and "+
		"MessageSent events.\n\n")
	fmt.Fprintf(&b, "| e-mails | queued in | last delivered after | e-mails/s | peak RSS | RSS when idle |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n")
	fmt.Fprintf(&b, "| %d | %.1f s | %.1f s | %.0f | %d MB | %d MB |\n\n", n, queued.Seconds(), took.Seconds(), float64(n)/took.Seconds(), hwm>>20, idleRSS>>20)
	return b.String(), nil
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
