package communications_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/emersion/go-smtp"
	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/reflect/protoreflect"
	_ "modernc.org/sqlite"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/kafka/kafkatest"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/smtpsink"
	"github.com/kinshiphq/kinship/services/communications"
	"github.com/kinshiphq/kinship/services/communications/api"
	"github.com/kinshiphq/kinship/services/communications/events"
)

type fixture struct {
	issuer *authtest.Issuer
	url    string
	// client calls as the worker does, with a workload token.
	client   communicationsv1connect.CommunicationsServiceClient
	sink     *smtpsink.Sink
	smtpAddr string
	dbPath   string
	brokers  []string
}

// start runs the service against a sink on smtpAddr; with startSink false
// nothing listens there yet.
func start(t *testing.T, startSink bool) *fixture {
	t.Helper()
	brokers := kafkatest.Start(t)
	if err := kafka.EnsureTopics(context.Background(), brokers, kafka.Topic{Name: events.Topic("demo"), Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	smtpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{smtpAddr: smtpLn.Addr().String(), dbPath: filepath.Join(t.TempDir(), "communications.db"), brokers: brokers, issuer: authtest.Start(t)}
	if startSink {
		f.serveSink(t, smtpLn)
	} else {
		smtpLn.Close()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- communications.Run(ctx, communications.Config{
			HTTPAddr: ln.Addr().String(), DatabaseURL: f.dbPath, KafkaBrokers: brokers, Communities: []string{"demo"},
			SMTPURL: "smtp://" + f.smtpAddr, SMTPFrom: "Kinship <no-reply@kinship.test>",
			Auth: f.issuer.Config(), MembersURL: "http://127.0.0.1:1", // API keys are not used here
		}, communications.Deps{Logger: slog.New(slog.DiscardHandler), Tracer: noop.NewTracerProvider(), Listener: ln, Credentials: f.issuer.WorkloadTokens()})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("communications.Run: %v", err)
		}
	})
	url := "http://" + ln.Addr().String()
	readyCtx, readyCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer readyCancel()
	if err := serve.WaitReady(readyCtx, url); err != nil {
		t.Fatal(err)
	}
	f.url = url
	f.client = communicationsv1connect.NewCommunicationsServiceClient(http.DefaultClient, url, authtest.Bearer(f.issuer.Workload(t)))
	return f
}

func (f *fixture) serveSink(t *testing.T, ln net.Listener) {
	t.Helper()
	sink, err := smtpsink.New(t.TempDir(), slog.New(slog.DiscardHandler))
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

func send(key, to string) *connect.Request[communicationsv1.SendMessageRequest] {
	return connect.NewRequest(&communicationsv1.SendMessageRequest{
		Community: "demo", IdempotencyKey: key, MemberId: "m1", ToEmail: to, Subject: "Welcome to demo", TextBody: "Hello Ada",
	})
}

func TestSendMessageDeliversOncePerKey(t *testing.T) {
	f := start(t, true)
	ctx := context.Background()
	first, err := f.client.SendMessage(ctx, send("welcome/m1", "ada@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Msg.GetMessage().GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_SENT || first.Msg.GetMessage().GetSentAt() == nil {
		t.Fatalf("first send = %v, want SENT", first.Msg.GetMessage())
	}
	second, err := f.client.SendMessage(ctx, send("welcome/m1", "ada@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if second.Msg.GetMessage().GetId() != first.Msg.GetMessage().GetId() {
		t.Errorf("repeat returned message %s, want the original %s", second.Msg.GetMessage().GetId(), first.Msg.GetMessage().GetId())
	}
	got := f.sink.Messages("ada@example.org")
	if len(got) != 1 {
		t.Fatalf("e-mails in the sink = %d, want 1", len(got))
	}
	if !strings.HasPrefix(got[0].MessageID, first.Msg.GetMessage().GetId()+"@") || got[0].Subject != "Welcome to demo" {
		t.Errorf("delivered %+v", got[0])
	}

	_, err = f.client.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{
		Community: "demo", IdempotencyKey: "welcome/m1", MemberId: "m1", ToEmail: "ada@example.org", Subject: "Other", TextBody: "Other",
	}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("key reused for another message: %v, want FailedPrecondition", err)
	}

	deadline := time.Now().Add(10 * time.Second)
	for topicEnd(t, f.brokers) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("MessageSent never reached the topic")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRefusedRecipientIsRecordedAndNeverRetried(t *testing.T) {
	f := start(t, true)
	ctx := context.Background()
	for range 2 {
		res, err := f.client.SendMessage(ctx, send("welcome/gone", "gone@example.org"))
		if err != nil {
			t.Fatal(err)
		}
		m := res.Msg.GetMessage()
		if m.GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_FAILED || !strings.Contains(m.GetFailureReason(), "550") {
			t.Fatalf("send to a refused recipient = %v, want FAILED with the 550 reply", m)
		}
	}
	if n := f.count(t, "SELECT attempts FROM messages"); n != 1 {
		t.Errorf("delivery attempts = %d, want 1", n)
	}
}

func TestUnreachableMailServerAsksForRetryAndTheRetryDelivers(t *testing.T) {
	f := start(t, false)
	ctx := context.Background()
	_, err := f.client.SendMessage(ctx, send("welcome/m1", "ada@example.org"))
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("send with the mail server down: %v, want Unavailable", err)
	}
	ln, err := net.Listen("tcp", f.smtpAddr)
	if err != nil {
		t.Fatalf("rebind the mail server port %s: %v", f.smtpAddr, err)
	}
	f.serveSink(t, ln)
	res, err := f.client.SendMessage(ctx, send("welcome/m1", "ada@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msg.GetMessage().GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_SENT {
		t.Errorf("retry = %v, want SENT", res.Msg.GetMessage())
	}
	if n := len(f.sink.Messages("ada@example.org")); n != 1 {
		t.Errorf("e-mails = %d, want 1", n)
	}
}

func TestSendMessageIsGuarded(t *testing.T) {
	f := start(t, true)
	organiser := f.issuer.For(t, "demo", auth.Organiser)
	tests := map[string]struct {
		token string
		want  connect.Code
	}{
		"no token":        {"", connect.CodeUnauthenticated},
		"member":          {f.issuer.For(t, "demo", auth.Member), connect.CodePermissionDenied},
		"ambassador":      {f.issuer.For(t, "demo", auth.Ambassador), connect.CodePermissionDenied},
		"other community": {f.issuer.For(t, "other", auth.Organiser), connect.CodePermissionDenied},
		"wrong audience":  {f.issuer.Token(t, localissuer.Claims{Subject: "o", Community: "demo", Roles: []string{"organiser"}, Audience: "x"}), connect.CodeUnauthenticated},
		"expired":         {f.issuer.Token(t, localissuer.Claims{Subject: "o", Community: "demo", Roles: []string{"organiser"}, IssuedAt: time.Now().Add(-3 * time.Hour), TTL: time.Hour}), connect.CodeUnauthenticated},
		"unknown api key": {"kinship_aaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", connect.CodeUnavailable},
		"organiser":       {organiser, codeOK},
		"staff":           {f.issuer.For(t, "demo", auth.Staff), codeOK},
		"platform admin":  {f.issuer.Token(t, localissuer.Claims{Subject: "root", Roles: []string{"platform-admin"}}), codeOK},
		"workload":        {f.issuer.Workload(t), codeOK},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var opts []connect.ClientOption
			if tt.token != "" {
				opts = append(opts, authtest.Bearer(tt.token))
			}
			c := communicationsv1connect.NewCommunicationsServiceClient(http.DefaultClient, f.url, opts...)
			_, err := c.SendMessage(context.Background(), send("guard/"+strings.ReplaceAll(name, " ", "-"), "ada@example.org"))
			if got := connect.CodeOf(err); (err == nil && tt.want != codeOK) || (err != nil && got != tt.want) {
				t.Errorf("SendMessage as %s = %v, want %v", name, err, tt.want)
			}
		})
	}
	services := []protoreflect.ServiceDescriptor{communicationsv1.File_kinship_communications_v1_communications_proto.Services().ByName("CommunicationsService")}
	if missing := api.Policy().Missing(services...); len(missing) > 0 {
		t.Errorf("procedures without a policy entry: %v", missing)
	}
	if n := services[0].Methods().Len(); n != 1 {
		t.Errorf("CommunicationsService has %d methods; give each new one a row above", n)
	}
}

func TestBadInputIsRefusedAndNothingIsSent(t *testing.T) {
	f := start(t, true)
	tests := map[string]struct {
		req   *communicationsv1.SendMessageRequest
		field string
	}{
		"bad recipient":     {&communicationsv1.SendMessageRequest{Community: "demo", IdempotencyKey: "k", MemberId: "m1", ToEmail: "x", Subject: "s", TextBody: "t"}, "to_email"},
		"no key":            {&communicationsv1.SendMessageRequest{Community: "demo", MemberId: "m1", ToEmail: "a@example.org", Subject: "s", TextBody: "t"}, "idempotency_key"},
		"unknown community": {&communicationsv1.SendMessageRequest{Community: "elsewhere", IdempotencyKey: "k", MemberId: "m1", ToEmail: "a@example.org", Subject: "s", TextBody: "t"}, "community"},
		"header injection":  {&communicationsv1.SendMessageRequest{Community: "demo", IdempotencyKey: "k", MemberId: "m1", ToEmail: "a@example.org", Subject: "s\r\nBcc: b@example.org", TextBody: "t"}, "subject"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := f.client.SendMessage(context.Background(), connect.NewRequest(tt.req))
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("error = %v, want InvalidArgument", err)
			}
			if fields := rpc.FieldViolations(err); !slices.Equal(fields, []string{tt.field}) {
				t.Errorf("field violations = %v, want [%s]", fields, tt.field)
			}
		})
	}
	if n := f.count(t, "SELECT count(*) FROM messages"); n != 0 {
		t.Errorf("messages stored = %d, want 0", n)
	}
	if n := len(f.sink.Messages("")); n != 0 {
		t.Errorf("e-mails sent = %d, want 0", n)
	}
}

func (f *fixture) count(t *testing.T, query string) int {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+f.dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func topicEnd(t *testing.T, brokers []string) int64 {
	t.Helper()
	conn, err := kafkago.DialLeader(context.Background(), "tcp", brokers[0], events.Topic("demo"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	last, err := conn.ReadLastOffset()
	if err != nil {
		t.Fatal(err)
	}
	return last
}

// codeOK stands for success in tables of Connect codes.
const codeOK connect.Code = 0
