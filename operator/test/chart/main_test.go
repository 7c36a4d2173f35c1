// Package chart tests the Helm chart charts/kinship: it lints, its values
// schema refuses bad values, what it renders is accepted by a real API
// server (envtest, with the chart's CRDs) and meets Pod Security
// "restricted", and its CRDs and RBAC are those the operator generates.
package chart

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kinshiphq/kinship/operator/test/internal/repo"
)

// cluster is the envtest API server every test shares.
var cluster struct {
	cfg        *rest.Config // an admin's
	k8s        client.Client
	warnings   *warningLog
	kubeconfig string // an admin's, for helm
}

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := repo.EnvtestAssets()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	root, err := repo.FindRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	env := &envtest.Environment{
		// The chart's own copy of the CRD, plus stand-ins for the
		// Prometheus Operator's ServiceMonitor and PrometheusRule CRDs.
		CRDDirectoryPaths: []string{
			filepath.Join(root, "charts", "kinship", "crds"),
			filepath.Join("testdata", "crds"),
		},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: dir,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: start envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	cluster.cfg = rest.CopyConfig(cfg)
	cluster.warnings = &warningLog{}
	cfg.WarningHandlerWithContext = cluster.warnings
	cfg.QPS, cfg.Burst = -1, 0
	cluster.k8s, err = client.New(cfg, client.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	if cluster.kubeconfig, err = writeKubeconfig(env); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.Remove(cluster.kubeconfig)
	return m.Run()
}

// writeKubeconfig writes a kubeconfig of a cluster admin to a temporary
// file, for the helm commands that talk to the API server.
func writeKubeconfig(env *envtest.Environment) (string, error) {
	admin, err := env.AddUser(envtest.User{Name: "chart-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	cfg, err := admin.KubeConfig()
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "chart-test-kubeconfig-")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(cfg); err != nil {
		return "", err
	}
	return f.Name(), f.Chmod(0o600)
}

// warningLog keeps the warnings the API server sends, such as Pod
// Security's about a workload's pod template.
type warningLog struct {
	mu   sync.Mutex
	msgs []string
}

var _ rest.WarningHandlerWithContext = (*warningLog)(nil)

func (w *warningLog) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

// take returns the warnings since the last call and forgets them.
func (w *warningLog) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	msgs := w.msgs
	w.msgs = nil
	return msgs
}
