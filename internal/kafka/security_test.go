package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kfake"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/kinshiphq/kinship/internal/tlstest"
)

// secureCluster is a broker that, like a production cluster, takes only
// TLS connections from clients with a certificate of its CA, which then
// authenticate with SASL.
type secureCluster struct {
	brokers []string
	ca      *tlstest.CA
	client  tls.Certificate
}

const (
	brokerName    = "broker.kinship.test" // the only name in the broker's certificate
	saslUser      = "kinship"
	saslPassword  = "correct horse battery staple"
	wrongPassword = "Tr0ub4dor&3"
)

func startSecureCluster(t *testing.T) *secureCluster {
	t.Helper()
	ca := tlstest.NewCA(t, "Kinship test Kafka CA")
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(2),
		kfake.TLS(ca.MutualServerConfig(t, brokerName)),
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", saslUser, saslPassword),
		kfake.Superuser("SCRAM-SHA-256", saslUser, saslPassword),
		kfake.Superuser("SCRAM-SHA-512", saslUser, saslPassword),
	)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return &secureCluster{brokers: c.ListenAddrs(), ca: ca, client: ca.Client(t, "kinship-members").TLS}
}

// security is what cmd/kinship builds for this cluster from the right
// settings: its CA, a client certificate, the broker's name and SASL.
func (s *secureCluster) security(t *testing.T, mech sasl.Mechanism) Security {
	t.Helper()
	return Security{
		TLS:  &tls.Config{RootCAs: s.ca.Pool(), Certificates: []tls.Certificate{s.client}, ServerName: brokerName, MinVersion: tls.VersionTLS12},
		SASL: mech,
	}
}

func scramMech(t *testing.T, algo scram.Algorithm, user, password string) sasl.Mechanism {
	t.Helper()
	m, err := scram.Mechanism(algo, user, password)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEveryClientWorksOverTLSWithSASL(t *testing.T) {
	s := startSecureCluster(t)
	sec := s.security(t, scramMech(t, scram.SHA512, saslUser, saslPassword))
	const topic = "demo.secure.v1"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if err := Ping(ctx, s.brokers, sec); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := EnsureTopics(ctx, s.brokers, sec, Topic{Name: topic, Partitions: 2, ReplicationFactor: 1},
		Topic{Name: DeadLetterTopic(topic), Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	w := NewWriter(WriterConfig{Brokers: s.brokers, Security: sec})
	defer w.Close()
	if err := w.WriteMessages(ctx, testEvent(topic, "e1").Message(), testEvent(topic, "e2").Message()); err != nil {
		t.Fatalf("write: %v", err)
	}

	c, err := NewConsumer(ConsumerConfig{
		Brokers: s.brokers, Security: sec, GroupID: "secure-group", Topics: []string{topic}, DeadLetters: w,
		Tracer: sdktrace.NewTracerProvider(), Logger: slog.New(slog.DiscardHandler),
	}, propagator)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 2)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx, func(_ context.Context, e Event) error { got <- e.ID; return nil }) }()
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case id := <-got:
			seen[id] = true
		case <-ctx.Done():
			t.Fatalf("consumed %v, want e1 and e2", seen)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("consumer Run: %v", err)
	}
}

func TestEachSASLMechanismAuthenticates(t *testing.T) {
	s := startSecureCluster(t)
	for name, mech := range map[string]sasl.Mechanism{
		"PLAIN":         plain.Mechanism{Username: saslUser, Password: saslPassword},
		"SCRAM-SHA-256": scramMech(t, scram.SHA256, saslUser, saslPassword),
		"SCRAM-SHA-512": scramMech(t, scram.SHA512, saslUser, saslPassword),
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := Ping(ctx, s.brokers, s.security(t, mech)); err != nil {
				t.Errorf("Ping with %s: %v", name, err)
			}
		})
	}
}

func TestWrongSecuritySettingsAreRefused(t *testing.T) {
	s := startSecureCluster(t)
	right := scramMech(t, scram.SHA512, saslUser, saslPassword)
	other := tlstest.NewCA(t, "some other CA")
	tests := []struct {
		name string
		sec  func() Security
		// want is part of the error a person reads. The test broker
		// drops a connection that fails SASL, where a real one answers
		// "SASL Authentication Failed".
		want string
	}{
		{"wrong SCRAM password", func() Security {
			return s.security(t, scramMech(t, scram.SHA512, saslUser, wrongPassword))
		}, "the broker closed the connection"},
		{"wrong PLAIN password", func() Security {
			return s.security(t, plain.Mechanism{Username: saslUser, Password: wrongPassword})
		}, "the broker closed the connection"},
		{"unknown user", func() Security { return s.security(t, scramMech(t, scram.SHA512, "mallory", saslPassword)) }, "the broker closed the connection"},
		{"no SASL", func() Security { return s.security(t, nil) }, "the broker closed the connection"},
		{"untrusted CA", func() Security {
			sec := s.security(t, right)
			sec.TLS.RootCAs = other.Pool()
			return sec
		}, "certificate signed by unknown authority"},
		{"system roots", func() Security {
			sec := s.security(t, right)
			sec.TLS.RootCAs = nil
			return sec
		}, "certificate signed by unknown authority"},
		{"broker name not matching the certificate", func() Security {
			sec := s.security(t, right)
			sec.TLS.ServerName = "" // taken from the address, 127.0.0.1
			return sec
		}, "cannot validate certificate for 127.0.0.1"},
		{"no client certificate", func() Security {
			sec := s.security(t, right)
			sec.TLS.Certificates = nil
			return sec
		}, "certificate required"},
		{"no TLS", func() Security { return Security{SASL: right} }, "the broker closed the connection"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := Ping(ctx, s.brokers, tc.sec())
			if err == nil {
				t.Fatal("Ping succeeded")
			}
			t.Logf("refused: %v", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Ping error = %v, want it to say %q", err, tc.want)
			}
		})
	}

	t.Run("writer and EnsureTopics with a wrong password", func(t *testing.T) {
		sec := s.security(t, scramMech(t, scram.SHA512, saslUser, wrongPassword))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := EnsureTopics(ctx, s.brokers, sec, Topic{Name: "demo.refused.v1", Partitions: 1, ReplicationFactor: 1}); err == nil {
			t.Error("EnsureTopics succeeded")
		}
		w := NewWriter(WriterConfig{Brokers: s.brokers, Security: sec})
		defer w.Close()
		if err := w.WriteMessages(ctx, testEvent("demo.refused.v1", "e1").Message()); err == nil {
			t.Error("write succeeded")
		}
	})

	t.Run("consumer with a wrong password", func(t *testing.T) {
		sec := s.security(t, scramMech(t, scram.SHA512, saslUser, wrongPassword))
		var logs lockedBuffer
		c, err := NewConsumer(ConsumerConfig{
			Brokers: s.brokers, Security: sec, GroupID: "refused-group", Topics: []string{"demo.refused.v1"},
			DeadLetters: NewWriter(WriterConfig{Brokers: s.brokers, Security: sec}),
			Tracer:      sdktrace.NewTracerProvider(), Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		}, propagator)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		handled := false
		if err := c.Run(ctx, func(context.Context, Event) error { handled = true; return nil }); err != nil {
			t.Errorf("Run: %v", err)
		}
		if handled {
			t.Error("a consumer with a wrong password handled an event")
		}
		if !strings.Contains(logs.String(), "kafka reader") {
			t.Errorf("the consumer logged no connection failure: %q", logs.String())
		}
		if strings.Contains(logs.String(), wrongPassword) {
			t.Errorf("the consumer logged the password: %q", logs.String())
		}
	})
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
