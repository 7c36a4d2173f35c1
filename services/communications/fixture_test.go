package communications_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/emersion/go-smtp"
	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"
	_ "modernc.org/sqlite"

	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
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
	// communities served; nil means demo alone.
	communities []string
	// outboundAllow is the webhook allow-list; nil allows 127.0.0.1/32,
	// where the tests' receivers listen. Use []string{} for none.
	outboundAllow []string
	// dkimKeyFile, when set, signs mail for kinship.test with selector
	// "test".
	dkimKeyFile string
	// subscriptionRetryBase and subscriptionMaxAttempts tune the domain
	// webhooks' retries; zero takes the defaults.
	subscriptionRetryBase   time.Duration
	subscriptionMaxAttempts int
	// before, when set, writes to the migrated database before the
	// service starts, as a process that stopped earlier left it.
	before func(context.Context, *store.Store) error
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
	// bounceToken is demo's token for POST /bounces, derived from
	// bounceSecret.
	bounceToken, bounceSecret string
	// members is the members API the service confirms addresses with.
	members *fakeMembers
}

var unsubscribeKey = []byte("0123456789abcdef0123456789abcdef")

// start runs the service against a sink on a loopback SMTP port.
func start(t *testing.T, o options) *fixture {
	t.Helper()
	brokers := kafkatest.Start(t)
	if o.communities == nil {
		o.communities = []string{"demo"}
	}
	if o.outboundAllow == nil {
		o.outboundAllow = []string{"127.0.0.1/32"}
	}
	var topics []kafka.Topic
	for _, c := range o.communities {
		// Dead-letter topics exist beforehand, as the operator creates them:
		// a dead letter is written at once, not after auto-creation.
		for _, name := range []string{events.Topic(c), memberevents.Topic(c), events.EventsTopic(c),
			kafka.DeadLetterTopic(memberevents.Topic(c)), kafka.DeadLetterTopic(events.EventsTopic(c))} {
			topics = append(topics, kafka.Topic{Name: name, Partitions: 1, ReplicationFactor: 1})
		}
	}
	if err := kafka.EnsureTopics(context.Background(), brokers, kafka.Security{}, topics...); err != nil {
		t.Fatal(err)
	}
	smtpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{smtpAddr: smtpLn.Addr().String(), dbPath: filepath.Join(t.TempDir(), "communications.db"), brokers: brokers,
		issuer: authtest.Start(t), bounceSecret: "bounce-secret", members: startMembers(t)}
	f.bounceToken = communications.CommunityBounceToken(f.bounceSecret, "demo")
	if o.noSink {
		smtpLn.Close()
	} else {
		f.serveSink(t, smtpLn)
	}
	if len(o.recipients) > 0 {
		seedRecipients(t, f.dbPath, o.recipients)
	}
	if o.before != nil {
		seedWith(t, f.dbPath, o.before)
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
		cfg := communications.Config{
			HTTPAddr: ln.Addr().String(), DatabaseURL: f.dbPath, KafkaBrokers: brokers, Communities: o.communities,
			SMTPURL: "smtp://" + f.smtpAddr, SMTPFrom: "Kinship <no-reply@kinship.test>",
			Auth: f.issuer.Config(), MembersURL: f.members.url, // API keys are not used here; addresses are confirmed there
			PublicURL: f.url, UnsubscribeKey: unsubscribeKey, BounceToken: f.bounceSecret, OutboundAllow: o.outboundAllow,
			EventsPublicURL: "https://events.example.org", QuietHours: o.quietHours, EmailPerSecond: o.emailPerSecond, WebhookPerSecond: 1000, RetryBase: o.retryBase,
			SubscriptionRetryBase: o.subscriptionRetryBase, SubscriptionMaxAttempts: o.subscriptionMaxAttempts,
		}
		if o.dkimKeyFile != "" {
			cfg.DKIMKeyFile, cfg.DKIMSelector, cfg.DKIMDomain = o.dkimKeyFile, "test", "kinship.test"
		}
		done <- communications.Run(ctx, cfg,
			communications.Deps{Logger: slog.New(slog.DiscardHandler), Tracer: noop.NewTracerProvider(), Listener: ln, Credentials: f.issuer.WorkloadTokens()})
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
	seedWith(t, path, func(ctx context.Context, s *store.Store) error {
		return s.DB().InTx(ctx, func(tx *sql.Tx) error {
			for _, r := range rs {
				if err := s.PutRecipient(ctx, tx, r); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// seedWith migrates the database at path and runs write on its store.
func seedWith(t *testing.T, path string, write func(context.Context, *store.Store) error) {
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
	if err := write(ctx, store.New(d, outbox.New(d, propagation.TraceContext{}))); err != nil {
		t.Fatal(err)
	}
}

// recipient is an active member of demo with a confirmed address who
// consents to announcements and digests.
func recipient(i int) domain.Recipient {
	return domain.Recipient{MemberID: fmt.Sprintf("m%05d", i), Community: "demo", Email: fmt.Sprintf("member%05d@example.org", i),
		DisplayName: fmt.Sprintf("Member %d", i), Status: "active", JoinedAt: time.Now().Add(-time.Hour), EmailVerified: true,
		Consents: []string{domain.PurposeAnnouncements, domain.PurposeDigest}}
}

// member is a confirmed recipient of demo with id and address.
func member(id, email string) domain.Recipient {
	r := recipient(0)
	r.MemberID, r.Email, r.DisplayName = id, email, "Ada Lovelace"
	return r
}

// fakeMembers is the members API as far as this service uses it: it
// confirms addresses, answering what answer says (nil: success), and
// keeps every call with the subject of the token it came with.
type fakeMembers struct {
	membersv1connect.UnimplementedMembersServiceHandler
	url    string
	mu     sync.Mutex
	calls  []confirmCall
	answer func(*membersv1.ConfirmEmailRequest) error
}

type confirmCall struct {
	req     *membersv1.ConfirmEmailRequest
	subject string
}

func startMembers(t *testing.T) *fakeMembers {
	t.Helper()
	m := &fakeMembers{}
	mux := http.NewServeMux()
	mux.Handle(membersv1connect.NewMembersServiceHandler(m))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	m.url = srv.URL
	return m
}

func (m *fakeMembers) ConfirmEmail(_ context.Context, req *connect.Request[membersv1.ConfirmEmailRequest]) (*connect.Response[membersv1.ConfirmEmailResponse], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, confirmCall{req: req.Msg, subject: tokenSubject(req.Header().Get("Authorization"))})
	if m.answer != nil { // set with answerWith
		if err := m.answer(req.Msg); err != nil {
			return nil, err
		}
	}
	return connect.NewResponse(&membersv1.ConfirmEmailResponse{Member: &membersv1.Member{Id: req.Msg.GetMemberId(), EmailVerified: true}}), nil
}

// answerWith makes ConfirmEmail answer what fn says (nil: success).
func (m *fakeMembers) answerWith(fn func(*membersv1.ConfirmEmailRequest) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.answer = fn
}

func (m *fakeMembers) confirmed() []confirmCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

// tokenSubject reads the subject of a bearer JWT (unverified: the fake
// only reports who the service claims to be).
func tokenSubject(header string) string {
	token, _ := strings.CutPrefix(header, "Bearer ")
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(raw, &claims)
	return claims.Sub
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
	eventuallyWithin(t, 20*time.Second, what, cond)
}

// eventuallyWithin polls cond until it holds or limit passes: for work
// whose length depends on the machine, such as a large fan-out.
func eventuallyWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deadLetters counts the records on topic's dead-letter topic.
func (f *fixture) deadLetters(t *testing.T, topic string) int {
	t.Helper()
	conn, err := kafkago.DialLeader(context.Background(), "tcp", f.brokers[0], kafka.DeadLetterTopic(topic), 0)
	if err != nil {
		return 0 // not created yet
	}
	defer conn.Close()
	last, err := conn.ReadLastOffset()
	if err != nil {
		return 0
	}
	return int(last)
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

// postBounce posts a bounce report with token as the bearer (none when
// empty) and returns the status.
func (f *fixture) postBounce(t *testing.T, token, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.url+"/bounces", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
