package external

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.temporal.io/server/common/rpc/encryption"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"

	"github.com/kinshiphq/kinship/internal/tlstest"
)

const (
	brokerName    = "broker.kinship.test"   // the only name in the broker's certificate
	frontendName  = "temporal.kinship.test" // the only name in the frontend's certificate
	saslUser      = "kinship-operator"
	saslPassword  = "correct horse battery staple"
	wrongPassword = "Tr0ub4dor&3"
)

// secureKafka is a broker that, like a production cluster, takes only TLS
// connections from clients with a certificate of its CA, which then
// authenticate with SASL.
type secureKafka struct {
	brokers []string
	ca      *tlstest.CA
	client  tlstest.Pair
}

func startSecureKafka(t *testing.T) *secureKafka {
	t.Helper()
	ca := tlstest.NewCA(t, "Kinship test Kafka CA")
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.TLS(ca.MutualServerConfig(t, brokerName)),
		kfake.EnableSASL(),
	}
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		opts = append(opts, kfake.Superuser(mech, saslUser, saslPassword))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return &secureKafka{brokers: c.ListenAddrs(), ca: ca, client: ca.Client(t, "kinship-operator")}
}

// cluster is what the controller hands the admin for this broker: the
// PEM of the Secrets (CA, client certificate and key), the broker's name
// and the SASL credentials.
func (s *secureKafka) cluster(mechanism, password string) KafkaCluster {
	return KafkaCluster{
		Brokers: s.brokers,
		TLS:     &TLS{CA: s.ca.PEM, Cert: s.client.CertPEM, Key: s.client.KeyPEM, ServerName: brokerName},
		SASL:    &SASL{Mechanism: mechanism, Username: saslUser, Password: password},
	}
}

func TestKafkaAdminOverMutualTLSWithSCRAM(t *testing.T) {
	exerciseTopics(t, startSecureKafka(t).cluster("SCRAM-SHA-512", saslPassword))
}

func TestKafkaAdminAuthenticatesWithEachSASLMechanism(t *testing.T) {
	s := startSecureKafka(t)
	k := NewKafkaAdmin(5 * time.Second)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			if _, err := k.DescribeTopics(context.Background(), s.cluster(mech, saslPassword), []string{"x.members.v1"}); err != nil {
				t.Errorf("describe topics with %s: %v", mech, err)
			}
		})
	}
}

func TestKafkaAdminReportsWrongSecuritySettings(t *testing.T) {
	s := startSecureKafka(t)
	other := tlstest.NewCA(t, "some other CA")
	k := NewKafkaAdmin(5 * time.Second)
	for _, tc := range []struct {
		name   string
		change func(c *KafkaCluster)
		// want is part of the error a person reads. The test broker
		// drops a connection that fails SASL, where a real one answers
		// "SASL Authentication Failed".
		want string
	}{
		{"wrong password", func(c *KafkaCluster) { c.SASL.Password = wrongPassword }, "check that the brokers' listener is SASL_SSL with SCRAM-SHA-512 and that the SASL user name and password are right"},
		{"no SASL", func(c *KafkaCluster) { c.SASL = nil }, "the broker closed the connection; check that the brokers' listener is SSL"},
		{"no TLS", func(c *KafkaCluster) { c.TLS = nil }, "the broker closed the connection"},
		{"untrusted CA", func(c *KafkaCluster) { c.TLS.CA = other.PEM }, "certificate signed by unknown authority"},
		{"system CAs", func(c *KafkaCluster) { c.TLS.CA = nil }, "certificate signed by unknown authority"},
		{"broker name taken from the address", func(c *KafkaCluster) { c.TLS.ServerName = "" }, "cannot validate certificate for 127.0.0.1"},
		{"no client certificate", func(c *KafkaCluster) { c.TLS.Cert, c.TLS.Key = nil, nil }, "certificate required"},
		{"client certificate without its key", func(c *KafkaCluster) { c.TLS.Key = nil }, "client certificate tls.crt needs its key tls.key too"},
		{"unknown mechanism", func(c *KafkaCluster) { c.SASL.Mechanism = "GSSAPI" }, `unknown SASL mechanism "GSSAPI"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.cluster("SCRAM-SHA-512", saslPassword)
			tc.change(&c)
			start := time.Now()
			_, err := k.DescribeTopics(context.Background(), c, []string{"x.members.v1"})
			if err == nil {
				t.Fatal("describing topics succeeded")
			}
			t.Logf("refused: %v", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), saslPassword) || strings.Contains(err.Error(), wrongPassword) {
				t.Error("the error quotes the password")
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("failing took %s; calls must be bounded by the timeout", d)
			}
		})
	}
}

// secureTemporal runs a Temporal server whose frontend takes only TLS
// connections from clients with a certificate of its CA, as production
// clusters do.
func secureTemporal(t *testing.T) (addr string, ca *tlstest.CA) {
	t.Helper()
	ca = tlstest.NewCA(t, "Kinship test Temporal CA")
	srv := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseServerOptions(
		temporal.WithTLSConfigFactory(&encryption.FixedTLSConfigProvider{
			FrontendServerConfig: ca.MutualServerConfig(t, frontendName),
			// The server's own worker dials its frontend too.
			FrontendClientConfig: ca.ClientConfig(t, "temporal-system-worker", frontendName),
		})))
	return srv.GetFrontendHostPort(), ca
}

func TestTemporalAdminOverMutualTLS(t *testing.T) {
	addr, ca := secureTemporal(t)
	client := ca.Client(t, "kinship-operator")
	right := func() TemporalCluster {
		return TemporalCluster{Address: addr, TLS: &TLS{CA: ca.PEM, Cert: client.CertPEM, Key: client.KeyPEM, ServerName: frontendName}}
	}
	exerciseNamespace(t, right())

	other := tlstest.NewCA(t, "some other CA")
	for _, tc := range []struct {
		name   string
		change func(c *TemporalCluster)
		want   string
	}{
		{"plaintext", func(c *TemporalCluster) { c.TLS = nil }, "does it expect TLS (spec.temporal.tls)?"},
		{"no client certificate", func(c *TemporalCluster) { c.TLS.Cert, c.TLS.Key = nil, nil }, "tls: certificate required"},
		// Go's client presents no certificate the server's CAs did not sign.
		{"a client certificate of another CA", func(c *TemporalCluster) {
			p := other.Client(t, "kinship-operator")
			c.TLS.Cert, c.TLS.Key = p.CertPEM, p.KeyPEM
		}, "tls: certificate required"},
		{"untrusted server", func(c *TemporalCluster) { c.TLS.CA = other.PEM }, "certificate signed by unknown authority"},
		{"server name not in the certificate", func(c *TemporalCluster) { c.TLS.ServerName = "elsewhere.kinship.test" }, "elsewhere.kinship.test"},
		{"key without its certificate", func(c *TemporalCluster) { c.TLS.Cert = nil }, "key tls.key needs its client certificate tls.crt too"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := NewTemporalAdmin(slog.New(slog.DiscardHandler), 3*time.Second)
			defer tp.Close()
			c := right()
			tc.change(&c)
			_, err := tp.DescribeNamespace(context.Background(), c, "beta")
			if err == nil {
				t.Fatal("describing a namespace succeeded")
			}
			t.Logf("refused: %v", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}

	// New material (a renewed client certificate) gets a connection of its
	// own; the same material reuses one.
	tp := NewTemporalAdmin(slog.New(slog.DiscardHandler), 10*time.Second)
	defer tp.Close()
	renewed := right()
	next := ca.Client(t, "kinship-operator")
	renewed.TLS.Cert, renewed.TLS.Key = next.CertPEM, next.KeyPEM
	for _, c := range []TemporalCluster{right(), right(), renewed} {
		if _, err := tp.DescribeNamespace(context.Background(), c, "beta"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(tp.conns); n != 2 {
		t.Errorf("%d connections, want one per TLS material (2)", n)
	}
}

func TestTLSFromSecretChecksTheMaterial(t *testing.T) {
	ca := tlstest.NewCA(t, "CA")
	client := ca.Client(t, "kinship")
	other := ca.Client(t, "other")
	for _, tc := range []struct {
		name string
		data map[string][]byte
		want string // empty: accepted
	}{
		{"CA only", map[string][]byte{"ca.crt": ca.PEM}, ""},
		{"CA and client certificate", map[string][]byte{"ca.crt": ca.PEM, "tls.crt": client.CertPEM, "tls.key": client.KeyPEM}, ""},
		{"client certificate only", map[string][]byte{"tls.crt": client.CertPEM, "tls.key": client.KeyPEM}, ""},
		{"other keys are ignored", map[string][]byte{"ca.crt": ca.PEM, "ca.p12": []byte("binary"), "ca.password": []byte("pw")}, ""},
		{"none of the keys", map[string][]byte{"user.crt": client.CertPEM}, "has none of the keys ca.crt, tls.crt and tls.key"},
		{"CA not PEM", map[string][]byte{"ca.crt": []byte("not a certificate")}, "ca.crt holds no PEM certificate"},
		{"certificate without key", map[string][]byte{"ca.crt": ca.PEM, "tls.crt": client.CertPEM}, "needs its key tls.key too"},
		{"key of another certificate", map[string][]byte{"tls.crt": client.CertPEM, "tls.key": other.KeyPEM}, "private key does not match public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TLSFromSecret("secret kinship-system/kafka-tls", tc.data, "broker.example")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "" && got.ServerName != "broker.example":
				t.Errorf("server name %q", got.ServerName)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "secret kinship-system/kafka-tls")):
				t.Errorf("error %v, want one naming the secret and saying %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "PRIVATE KEY"):
				t.Errorf("the error quotes the key: %v", err)
			}
		})
	}
}
