package workflows

import (
	"context"
	"crypto/tls"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/rpc/encryption"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"

	"github.com/kinshiphq/kinship/internal/tlstest"
)

// TestWorkerDialsTemporalOverMutualTLS runs a Temporal server whose
// frontend takes only TLS connections from clients with a certificate of
// its CA, as production clusters do, and dials it the way the worker does.
func TestWorkerDialsTemporalOverMutualTLS(t *testing.T) {
	const serverName = "temporal.kinship.test" // the only name in the frontend's certificate
	ca := tlstest.NewCA(t, "Kinship test Temporal CA")
	srv := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseServerOptions(
		temporal.WithTLSConfigFactory(&encryption.FixedTLSConfigProvider{
			FrontendServerConfig: ca.MutualServerConfig(t, serverName),
			// The server's own system worker dials its frontend too.
			FrontendClientConfig: ca.ClientConfig(t, "temporal-system-worker", serverName),
		})))
	namespace := srv.GetDefaultNamespace()
	worker := ca.Client(t, "kinship-worker").TLS
	right := func() *tls.Config {
		return &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{worker}, ServerName: serverName, MinVersion: tls.VersionTLS12}
	}
	dial := func(t *testing.T, tlsCfg *tls.Config) (map[string]client.Client, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cfg := Config{TemporalAddress: srv.GetFrontendHostPort(), Communities: []string{namespace}, TemporalTLS: tlsCfg}
		clients, err := dialNamespaces(ctx, cfg, noop.NewTracerProvider(), slog.New(slog.DiscardHandler))
		for _, c := range clients {
			t.Cleanup(c.Close)
		}
		return clients, err
	}

	t.Run("with the CA, a client certificate and the server name", func(t *testing.T) {
		clients, err := dial(t, right())
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := clients[namespace].WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace}); err != nil {
			t.Errorf("describe namespace over mTLS: %v", err)
		}
	})

	other := tlstest.NewCA(t, "some other CA")
	for _, tc := range []struct {
		name string
		tls  func() *tls.Config
		want string
	}{
		{"plaintext", func() *tls.Config { return nil }, "connect to temporal"},
		// A refused client certificate reads "certificate required" or
		// "bad certificate" or a broken pipe, depending on timing.
		{"no client certificate", func() *tls.Config { c := right(); c.Certificates = nil; return c }, "connect to temporal"},
		{"a certificate of another CA", func() *tls.Config {
			c := right()
			c.Certificates = []tls.Certificate{other.Client(t, "kinship-worker").TLS}
			return c
		}, "connect to temporal"},
		{"untrusted server", func() *tls.Config { c := right(); c.RootCAs = other.Pool(); return c }, "certificate signed by unknown authority"},
		{"server name not in the certificate", func() *tls.Config { c := right(); c.ServerName = "elsewhere.kinship.test"; return c }, "not elsewhere.kinship.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dial(t, tc.tls())
			if err == nil {
				t.Fatal("dial succeeded")
			}
			t.Logf("refused: %v", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("dial error = %v, want it to say %q", err, tc.want)
			}
		})
	}
}
