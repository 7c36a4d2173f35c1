package chart

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kinshiphq/kinship/operator/test/internal/repo"
)

// externalMetrics are the metrics the dashboards read that Kinship's own
// code does not emit, and where they come from.
var externalMetrics = map[string]string{
	"controller_runtime_reconcile_total":        "controller-runtime, the operator's /metrics",
	"controller_runtime_reconcile_errors_total": "controller-runtime, the operator's /metrics",
	"controller_runtime_reconcile_time_seconds": "controller-runtime, the operator's /metrics",
	"controller_runtime_active_workers":         "controller-runtime, the operator's /metrics",
	"workqueue_depth":                           "controller-runtime, the operator's /metrics",
	"leader_election_master_status":             "controller-runtime, the operator's /metrics",
	"rest_client_requests_total":                "client-go via controller-runtime, the operator's /metrics",
	"kafka_consumergroup_lag":                   "Kafka Exporter (Strimzi's kafkaExporter)",
}

// selectorMetric finds metric names in PromQL: a name right before a
// label selector.
var selectorMetric = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{`)

// The dashboards show only what exists: every metric they query is either
// one Kinship's code registers with OpenTelemetry (kinship.outbox.pending
// becomes kinship_outbox_pending in Prometheus, counters gain _total) or
// a listed external one.
func TestDashboardsQueryOnlyMetricsThatExist(t *testing.T) {
	root := repo.Root(t)
	files, err := filepath.Glob(filepath.Join(chartDir(t), "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	code := kinshipSource(t, root)
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var dash struct {
			UID    string `json:"uid"`
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
			Templating struct {
				List []struct {
					Query any `json:"query"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(raw, &dash); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var exprs []string
		for _, p := range dash.Panels {
			for _, target := range p.Targets {
				exprs = append(exprs, target.Expr)
			}
		}
		for _, v := range dash.Templating.List {
			if q, ok := v.Query.(map[string]any); ok {
				if s, ok := q["query"].(string); ok {
					exprs = append(exprs, s)
				}
			}
		}
		if len(exprs) == 0 {
			t.Errorf("%s queries nothing", file)
		}
		for _, expr := range exprs {
			for _, m := range selectorMetric.FindAllStringSubmatch(expr, -1) {
				name := strings.TrimSuffix(m[1], "_bucket")
				if _, ok := externalMetrics[name]; ok {
					continue
				}
				otel := strings.ReplaceAll(strings.TrimSuffix(name, "_total"), "_", ".")
				if !strings.HasPrefix(name, "kinship_") || !strings.Contains(code, `"`+otel+`"`) {
					t.Errorf("%s queries %s, which neither Kinship's code (as %q) nor a listed exporter emits", filepath.Base(file), name, otel)
				}
			}
		}
	}
}

// kinshipSource is the text of the platform's non-test Go code, where
// its OpenTelemetry instruments are named.
func kinshipSource(t testing.TB, root string) string {
	t.Helper()
	var b strings.Builder
	for _, dir := range []string{"internal", "services", "workflows"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			b.Write(src)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
