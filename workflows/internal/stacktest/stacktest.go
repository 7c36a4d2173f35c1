// Package stacktest runs, for the workflows' integration tests, what the
// workflows talk to in production: the embedded Temporal server on
// SQLite, the in-process Kafka-protocol broker, a test OIDC issuer, an
// SMTP sink and the services a test asks for, each on loopback with its
// own SQLite database. Tests start their own worker on it.
package stacktest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace/noop"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/devstack"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/kafka/kafkatest"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/smtpsink"
	"github.com/kinshiphq/kinship/services/communications"
	commevents "github.com/kinshiphq/kinship/services/communications/events"
	eventsservice "github.com/kinshiphq/kinship/services/events"
	eventevents "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/services/members"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/services/partners"
	partnerevents "github.com/kinshiphq/kinship/services/partners/events"
)

// Community is the one community a stack serves (and its Temporal
// namespace).
const Community = "demo"

// Options choose the services a stack runs; Temporal, the broker and the
// issuer always run.
type Options struct {
	Members, Communications, Events, Partners bool
	// SeatOfferWindow is how long the events service holds a freed seat;
	// 0 means the service's default.
	SeatOfferWindow time.Duration
}

// Stack is a running set of components.
type Stack struct {
	Brokers  []string
	Issuer   *authtest.Issuer
	Temporal client.Client
	// Mail receives what the communications service sends.
	Mail *smtpsink.Sink

	MembersURL, CommunicationsURL, EventsURL, PartnersURL string

	logger       *slog.Logger
	dir          string
	smtpListener net.Listener
}

// Start runs a stack for the test; everything stops when it ends.
func Start(t *testing.T, o Options) *Stack {
	t.Helper()
	s := &Stack{Brokers: kafkatest.Start(t), Issuer: authtest.Start(t), dir: t.TempDir(), logger: testLogger()}
	s.ensureTopics(t)
	s.startTemporal(t)
	if o.Members {
		s.MembersURL = s.serve(t, func(ctx context.Context, ln net.Listener) error {
			return members.Run(ctx, members.Config{HTTPAddr: ln.Addr().String(), DatabaseURL: s.db("members"), KafkaBrokers: s.Brokers,
				Communities: []string{Community}, Auth: s.Issuer.Config()},
				members.Deps{Logger: s.logger, Tracer: noop.NewTracerProvider(), Listener: ln})
		})
	}
	// API keys are not used here: the services never need to call it.
	membersURL := "http://127.0.0.1:1"
	if s.MembersURL != "" {
		membersURL = s.MembersURL
	}
	if o.Communications {
		s.Mail = s.startMail(t)
		s.CommunicationsURL = s.serve(t, func(ctx context.Context, ln net.Listener) error {
			return communications.Run(ctx, communications.Config{HTTPAddr: ln.Addr().String(), DatabaseURL: s.db("communications"),
				KafkaBrokers: s.Brokers, Communities: []string{Community}, SMTPURL: "smtp://" + s.smtpAddr(t), SMTPFrom: "Kinship <no-reply@kinship.test>",
				Auth: s.Issuer.Config(), MembersURL: membersURL, PublicURL: "http://" + ln.Addr().String(),
				UnsubscribeKey: []byte("0123456789abcdef0123456789abcdef"), BounceToken: "bounce-secret", QuietHours: "off",
				EmailPerSecond: 1000, WebhookPerSecond: 1000},
				communications.Deps{Logger: s.logger, Tracer: noop.NewTracerProvider(), Listener: ln, Credentials: s.Issuer.WorkloadTokens()})
		})
	}
	if o.Events {
		s.EventsURL = s.serve(t, func(ctx context.Context, ln net.Listener) error {
			return eventsservice.Run(ctx, eventsservice.Config{HTTPAddr: ln.Addr().String(), DatabaseURL: s.db("events"), KafkaBrokers: s.Brokers,
				Communities: []string{Community}, Auth: s.Issuer.Config(), MembersURL: membersURL, PublicURL: "http://" + ln.Addr().String(),
				SeatOfferWindow: o.SeatOfferWindow, SweepEvery: time.Hour},
				eventsservice.Deps{Logger: s.logger, Tracer: noop.NewTracerProvider(), Listener: ln, Credentials: s.Issuer.WorkloadTokens()})
		})
	}
	if o.Partners {
		s.PartnersURL = s.serve(t, func(ctx context.Context, ln net.Listener) error {
			return partners.Run(ctx, partners.Config{HTTPAddr: ln.Addr().String(), DatabaseURL: s.db("partners"), KafkaBrokers: s.Brokers,
				Communities: []string{Community}, Auth: s.Issuer.Config(), MembersURL: membersURL, SweepEvery: time.Hour},
				partners.Deps{Logger: s.logger, Tracer: noop.NewTracerProvider(), Listener: ln, Credentials: s.Issuer.WorkloadTokens()})
		})
	}
	return s
}

// testLogger keeps the components quiet unless something fails.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

func (s *Stack) db(name string) string { return filepath.Join(s.dir, name+".db") }

func (s *Stack) ensureTopics(t *testing.T) {
	t.Helper()
	var topics []kafka.Topic
	for _, name := range []string{memberevents.Topic(Community), eventevents.Topic(Community), commevents.Topic(Community), partnerevents.Topic(Community)} {
		topics = append(topics, kafka.Topic{Name: name, Partitions: 1, ReplicationFactor: 1},
			kafka.Topic{Name: kafka.DeadLetterTopic(name), Partitions: 1, ReplicationFactor: 1})
	}
	if err := kafka.EnsureTopics(context.Background(), s.Brokers, kafka.Security{}, topics...); err != nil {
		t.Fatal(err)
	}
}

func (s *Stack) startTemporal(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv, err := devstack.StartTemporal(devstack.TemporalConfig{DataFile: filepath.Join(s.dir, "temporal.db"), Address: addr,
		Namespaces: []string{Community}, Logger: s.logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: Community, Logger: tlog.NewStructuredLogger(s.logger)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s.Temporal = c
}

// serve runs one service on a loopback port until the test ends and
// returns its base URL once it is ready.
func (s *Stack) serve(t *testing.T, run func(ctx context.Context, ln net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service at %s: %v", url, err)
		}
	})
	readyCtx, readyCancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer readyCancel()
	if err := serve.WaitReady(readyCtx, url); err != nil {
		t.Fatal(err)
	}
	return url
}

func (s *Stack) startMail(t *testing.T) *smtpsink.Sink {
	t.Helper()
	sink, err := smtpsink.New(filepath.Join(s.dir, "mail"), s.logger)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.smtpListener = ln
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sink.ServeSMTP(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return sink
}

func (s *Stack) smtpAddr(t *testing.T) string {
	t.Helper()
	if s.smtpListener == nil {
		t.Fatal("no SMTP sink")
	}
	return s.smtpListener.Addr().String()
}

// Workload are the client options of the worker's calls: tracing off,
// the test workload's token.
func (s *Stack) Workload() []connect.ClientOption {
	return rpc.ClientOptions(noop.NewTracerProvider(), auth.NewClientInterceptor(s.Issuer.WorkloadTokens()))
}

// HTTPClient is the worker's HTTP client.
func (s *Stack) HTTPClient() *http.Client { return rpc.HTTPClient(30 * time.Second) }

// As are client options calling as role in the community.
func (s *Stack) As(t *testing.T, role auth.Role) connect.ClientOption {
	t.Helper()
	return authtest.Bearer(s.Issuer.For(t, Community, role))
}

// Worker runs a worker on queue with what register adds, until the test
// ends.
func (s *Stack) Worker(t *testing.T, queue string, register func(worker.Registry)) {
	t.Helper()
	w := worker.New(s.Temporal, queue, worker.Options{})
	register(w)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
}

// Eventually polls check until it returns "" or timeout passes.
func Eventually(t *testing.T, timeout time.Duration, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		if last = check(); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %s", what, fmt.Sprint(last))
}
