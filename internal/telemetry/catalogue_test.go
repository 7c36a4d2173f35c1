package telemetry_test

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/metric"

	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/telemetry/telemetrytest"
)

var update = flag.Bool("update", false, "rewrite the catalogue in docs/observability.md")

// repoRoot is two folders up from this package.
const repoRoot = "../.."

func TestCatalogueEntriesAreComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range telemetry.Catalogue() {
		t.Run(m.Name, func(t *testing.T) {
			if seen[m.Name] {
				t.Error("listed twice")
			}
			seen[m.Name] = true
			if m.Description == "" || m.Source == "" {
				t.Error("lacks a description or a source")
			}
			if m.Source == telemetry.SourceKinship && (m.Where == "" || m.Unit == "") {
				t.Error("one of Kinship's own metrics must say where it is recorded and its unit")
			}
			if m.Family && !strings.HasSuffix(m.Name, ".") {
				t.Error("a family's name is a prefix ending in a dot")
			}
			if m.Kind == telemetry.Histogram && m.Unit != "s" {
				t.Errorf("histogram in %q: durations are in seconds", m.Unit)
			}
		})
	}
}

// Every own metric's Prometheus series are named as the exporter names
// them, so dashboards and alerts checked against PrometheusSeries query
// what is really scraped.
func TestPrometheusNamesAreWhatIsScraped(t *testing.T) {
	tel, err := telemetry.New(context.Background(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mp := tel.MeterProvider("kinship-test")
	meter := telemetry.Meter(mp, "test")
	ctx := context.Background()
	for _, m := range telemetry.Catalogue() {
		if m.Prometheus != "" || m.Family {
			continue
		}
		if err := record(ctx, meter, m); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
	}
	scraped := telemetrytest.Scrape(t, telemetry.MetricsHandler(mp)).Names()
	for _, m := range telemetry.Catalogue() {
		if m.Prometheus != "" || m.Family {
			continue
		}
		for _, series := range m.PrometheusSeries() {
			if !slices.Contains(scraped, series) {
				t.Errorf("%s: series %s not scraped; got %v", m.Name, series, scraped)
			}
		}
	}
}

// record records one value of m: through the catalogue's constructors for
// Kinship's own metrics, as the Temporal SDK's handler does for its own.
func record(ctx context.Context, meter metric.Meter, m telemetry.Metric) error {
	if m.Source != telemetry.SourceKinship {
		switch m.Kind {
		case telemetry.Counter:
			c, err := meter.Int64Counter(m.Name)
			c.Add(ctx, 1)
			return err
		case telemetry.Histogram:
			h, err := meter.Float64Histogram(m.Name, metric.WithUnit(m.Unit))
			h.Record(ctx, 1)
			return err
		case telemetry.Gauge:
			g, err := meter.Float64Gauge(m.Name)
			g.Record(ctx, 1)
			return err
		}
		return fmt.Errorf("kind %s", m.Kind)
	}
	var err error
	switch m.Kind {
	case telemetry.Counter:
		if m.Unit == "s" {
			_, err = telemetry.Float64ObservableCounter(meter, m.Name, func(_ context.Context, o metric.Float64Observer) error { o.Observe(1); return nil })
			return err
		}
		var c metric.Int64Counter
		if c, err = telemetry.Int64Counter(meter, m.Name); err == nil {
			c.Add(ctx, 1)
		}
	case telemetry.Histogram:
		var h metric.Float64Histogram
		if h, err = telemetry.Float64Histogram(meter, m.Name); err == nil {
			h.Record(ctx, 1)
		}
	case telemetry.Gauge:
		if m.Unit == "s" {
			_, err = telemetry.Float64ObservableGauge(meter, m.Name, func(_ context.Context, o metric.Float64Observer) error { o.Observe(1); return nil })
			return err
		}
		_, err = telemetry.Int64ObservableGauge(meter, m.Name, func(_ context.Context, o metric.Int64Observer) error { o.Observe(1); return nil })
	case telemetry.UpDownCounter:
		_, err = telemetry.Int64ObservableUpDownCounter(meter, m.Name, func(_ context.Context, o metric.Int64Observer) error { o.Observe(1); return nil })
	default:
		err = fmt.Errorf("kind %s", m.Kind)
	}
	return err
}

func TestConstructorsRefuseWhatTheCatalogueDoesNotSay(t *testing.T) {
	meter := telemetry.Meter(nil, "test")
	if _, err := telemetry.Int64Counter(meter, "kinship.members.joined"); err == nil {
		t.Error("a counter missing from the catalogue was created")
	}
	if _, err := telemetry.Int64Counter(meter, telemetry.MetricProcessDuration); err == nil {
		t.Error("a histogram of the catalogue was created as a counter")
	}
	if _, err := telemetry.Int64Counter(meter, telemetry.MetricTemporalWfFailed); err == nil {
		t.Error("the Temporal SDK's metric was created by Kinship's code")
	}
}

// instrumentCall finds instruments created straight from a meter with a
// literal name, bypassing the catalogue.
var instrumentCall = regexp.MustCompile(`\.(Int64|Float64)(Observable)?(Counter|UpDownCounter|Histogram|Gauge)\(\s*"([^"]*)"`)

// constantUse finds the catalogue's constants where code uses them.
var constantUse = regexp.MustCompile(`telemetry\.(Metric[A-Za-z]+)`)

// The catalogue is checked against the code: no instrument is created
// around it, and every one of Kinship's own metrics is recorded somewhere.
func TestCodeRecordsExactlyTheCatalogue(t *testing.T) {
	used := map[string]bool{}
	for _, dir := range []string{"internal", "services", "workflows", "console", "cmd"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, call := range instrumentCall.FindAllSubmatch(src, -1) {
				m, ok := telemetry.Lookup(string(call[4]))
				if ok && m.Family {
					used[string(call[4])] = true
					continue
				}
				if strings.Contains(path, filepath.Join("internal", "telemetry")) {
					continue
				}
				t.Errorf("%s creates an instrument by a literal name (%s): use the telemetry catalogue's constructors", path, call[0])
			}
			for _, m := range constantUse.FindAllSubmatch(src, -1) {
				used[string(m[1])] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	src, err := os.ReadFile("catalogue.go")
	if err != nil {
		t.Fatal(err)
	}
	consts := regexp.MustCompile(`(?m)^\t(Metric[A-Za-z]+)\s+= "([^"]+)"`).FindAllSubmatch(src, -1)
	for _, c := range consts {
		m, ok := telemetry.Lookup(string(c[2]))
		if !ok || m.Source != telemetry.SourceKinship {
			continue
		}
		if !used[string(c[1])] && !(m.Family && used[m.Name]) {
			t.Errorf("%s (%s) is in the catalogue, but no code records it", c[1], c[2])
		}
	}
}

const (
	catalogueStart = "<!-- catalogue:start -->"
	catalogueEnd   = "<!-- catalogue:end -->"
)

// docs/observability.md shows the catalogue as it is.
func TestCatalogueDoc(t *testing.T) {
	path := filepath.Join(repoRoot, "docs", "observability.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, catalogueStart), strings.Index(doc, catalogueEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %s and %s markers", path, catalogueStart, catalogueEnd)
	}
	want := doc[:i] + catalogueStart + "\n" + catalogueTable() + catalogueEnd + doc[j+len(catalogueEnd):]
	if want == doc {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s shows an old catalogue: go test ./internal/telemetry -run TestCatalogueDoc -update", path)
}

func catalogueTable() string {
	var b strings.Builder
	bySource := map[string][]telemetry.Metric{}
	var sources []string
	for _, m := range telemetry.Catalogue() {
		if _, ok := bySource[m.Source]; !ok {
			sources = append(sources, m.Source)
		}
		bySource[m.Source] = append(bySource[m.Source], m)
	}
	for _, source := range sources {
		title := source
		if source == telemetry.SourceKinship {
			title = "Kinship's components"
		}
		fmt.Fprintf(&b, "\n#### %s\n\n", title)
		b.WriteString("| metric | Prometheus series | kind | unit | attributes | what it counts |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, m := range bySource[source] {
			unit := m.Unit
			if unit == "" {
				unit = "—"
			}
			what := m.Description
			if m.Where != "" {
				what += " (" + m.Where + ")"
			}
			fmt.Fprintf(&b, "| `%s` | `%s` | %s | `%s` | %s | %s |\n", m.Name, strings.Join(m.PrometheusSeries(), "`, `"), m.Kind, unit,
				code(m.Attributes), what)
		}
	}
	b.WriteString("\n")
	return b.String()
}

func code(attrs []string) string {
	if len(attrs) == 0 {
		return "—"
	}
	return "`" + strings.Join(attrs, "`, `") + "`"
}
