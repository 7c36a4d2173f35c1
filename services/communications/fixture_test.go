package communications_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"
	_ "modernc.org/sqlite"

	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/kafka/kafkatest"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/smtpsink"
	"github.com/kinshiphq/kinship/services/communications"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// options shape one test's service.
type options struct {
	// noSink leaves the SMTP port closed.
	noSink bool
	// quietHours default to "off" so announcements go out at once.
	quietHours     string
	emailPerSecond float64
	retryBase      time.Duration
	// recipients are put in the projection before the service starts.
	recipients []domain.Recipient
}

type fixture struct {
	issuer *authtest.Issuer
	url    string
	// client, templates and announcements call as an organiser.
	client        communicationsv1connect.CommunicationsServiceClient
	templates     communicationsv1connect.TemplatesServiceClient
	announcements communicationsv1connect.AnnouncementsServiceClient
	sink          *smtpsink.Sink
	mailDir       string
	smtpAddr      string
	dbPath        string
	brokers       []string
	bounceToken   string
}

var unsubscribeKey = []byte("0123456789abcdef0123456789abcdef")

// start runs the service against a sink on a loopback SMTP port.
func start(t *testing.T, o options) *fixture {
	t.Helper()
	brokers := kafkatest.Start(t)
	if err := kafka.EnsureTopics(context.Background(), brokers, kafka.Security{},
		kafka.Topic{Name: events.Topic("demo"), Partitions: 1, ReplicationFactor: 1},
		kafka.Topic{Name: memberevents.Topic("demo"), Partitions: 1, ReplicationFactor: 1},
		kafka.Topic{Name: events.EventsTopic("demo"), Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	smtpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{smtpAddr: smtpLn.Addr().String(), dbPath: filepath.Join(t.TempDir(), "communications.db"), brokers: brokers,
		issuer: authtest.Start(t), bounceToken: "bounce-secret"}
	if o.noSink {
		smtpLn.Close()
	} else {
		f.serveSink(t, smtpLn)
	}
	if len(o.recipients) > 0 {
		seedRecipients(t, f.dbPath, o.recipients)
	}
	if o.quietHours == "" {
		o.quietHours = "off"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- communications.Run(ctx, communications.Config{
			HTTPAddr: ln.Addr().String(), DatabaseURL: f.dbPath, KafkaBrokers: brokers, Communities: []string{"demo"},
			SMTPURL: "smtp://" + f.smtpAddr, SMTPFrom: "Kinship <no-reply@kinship.test>",
			Auth: f.issuer.Config(), MembersURL: "http://127.0.0.1:1", // API keys are not used here
			PublicURL: f.url, UnsubscribeKey: unsubscribeKey, BounceToken: f.bounceToken,
			EventsPublicURL: "https://events.example.org", QuietHours: o.quietHours, EmailPerSecond: o.emailPerSecond, WebhookPerSecond: 1000, RetryBase: o.retryBase,
		}, communications.Deps{Logger: slog.New(slog.DiscardHandler), Tracer: noop.NewTracerProvider(), Listener: ln, Credentials: f.issuer.WorkloadTokens()})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("communications.Run: %v", err)
		}
	})
	readyCtx, readyCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer readyCancel()
	if err := serve.WaitReady(readyCtx, f.url); err != nil {
		t.Fatal(err)
	}
	organiser := authtest.Bearer(f.issuer.For(t, "demo", "organiser"))
	f.client = communicationsv1connect.NewCommunicationsServiceClient(http.DefaultClient, f.url, organiser)
	f.templates = communicationsv1connect.NewTemplatesServiceClient(http.DefaultClient, f.url, organiser)
	f.announcements = communicationsv1connect.NewAnnouncementsServiceClient(http.DefaultClient, f.url, organiser)
	return f
}

func (f *fixture) serveSink(t *testing.T, ln net.Listener) {
	t.Helper()
	f.mailDir = t.TempDir()
	sink, err := smtpsink.New(f.mailDir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sink.Reject = func(rcpt string) *smtp.SMTPError {
		if strings.HasPrefix(rcpt, "gone@") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}
	f.sink = sink
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sink.ServeSMTP(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
}

// seedRecipients fills the recipients projection of a fresh database, as
// the members.v1 consumer would.
func seedRecipients(t *testing.T, path string, rs []domain.Recipient) {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := db.Migrate(ctx, d, slog.New(slog.DiscardHandler), outbox.Migrations(), inbox.Migrations(), audit.Migrations(), store.Migrations()); err != nil {
		t.Fatal(err)
	}
	s := store.New(d, outbox.New(d, propagation.TraceContext{}))
	if err := d.InTx(ctx, func(tx *sql.Tx) error {
		for _, r := range rs {
			if err := s.PutRecipient(ctx, tx, r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// recipient is an active member of demo who consents to announcements.
func recipient(i int) domain.Recipient {
	return domain.Recipient{MemberID: fmt.Sprintf("m%05d", i), Community: "demo", Email: fmt.Sprintf("member%05d@example.org", i),
		DisplayName: fmt.Sprintf("Member %d", i), Status: "active", JoinedAt: time.Now().Add(-time.Hour),
		Consents: []string{domain.PurposeAnnouncements, domain.PurposeDigest}}
}

func recipients(n int) []domain.Recipient {
	out := make([]domain.Recipient, n)
	for i := range out {
		out[i] = recipient(i)
	}
	return out
}

// publish writes members.v1 events to the broker, as the members service's
// outbox relay does.
func (f *fixture) publish(t *testing.T, es ...kafka.Event) {
	t.Helper()
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: f.brokers})
	defer w.Close()
	msgs := make([]kafkago.Message, len(es))
	for i, e := range es {
		msgs[i] = e.Message()
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// count runs a counting query on the service's database.
func (f *fixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+f.dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// eventually polls cond until it holds or 20 seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// topicEvents reads every event on demo.communications.v1 so far.
func (f *fixture) topicEvents(t *testing.T) []kafka.Event {
	t.Helper()
	conn, err := kafkago.DialLeader(context.Background(), "tcp", f.brokers[0], events.Topic("demo"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	last, err := conn.ReadLastOffset()
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Event
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: f.brokers, Topic: events.Topic("demo"), Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for int64(len(out)) < last {
		msg, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e, err := kafka.ParseEvent(msg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}
