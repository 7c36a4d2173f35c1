// Package telemetrytest reads the metrics a component serves as
// Prometheus text, for tests that assert a metric moved.
package telemetrytest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Sample is one series' value.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Samples are what one scrape returned.
type Samples []Sample

// Scrape reads the metrics h serves.
func Scrape(t testing.TB, h http.Handler) Samples {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	s, err := Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Get scrapes url (a component's /metrics).
func Get(t testing.TB, url string) Samples {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %s", url, res.Status)
	}
	s, err := Parse(res.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return s
}

// Parse reads Prometheus text.
func Parse(r io.Reader) (Samples, error) {
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	var all []*dto.MetricFamily
	for _, f := range families {
		all = append(all, f)
	}
	vec, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.Now()}, all...)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	var out Samples
	for _, s := range vec {
		labels := map[string]string{}
		for k, v := range s.Metric {
			if k != model.MetricNameLabel {
				labels[string(k)] = string(v)
			}
		}
		out = append(out, Sample{Name: string(s.Metric[model.MetricNameLabel]), Labels: labels, Value: float64(s.Value)})
	}
	return out, nil
}

// Sum adds the values of the series called name whose labels include
// every pair of match ("key", "value", ...).
func (s Samples) Sum(name string, match ...string) float64 {
	total := 0.0
	for _, x := range s {
		if x.Name == name && matches(x.Labels, match) {
			total += x.Value
		}
	}
	return total
}

// Has reports whether a series called name with those labels exists.
func (s Samples) Has(name string, match ...string) bool {
	for _, x := range s {
		if x.Name == name && matches(x.Labels, match) {
			return true
		}
	}
	return false
}

// Names lists the series names, once each.
func (s Samples) Names() []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x.Name] {
			seen[x.Name] = true
			out = append(out, x.Name)
		}
	}
	sort.Strings(out)
	return out
}

// String lists the series, for failure messages.
func (s Samples) String() string {
	var b strings.Builder
	for _, x := range s {
		fmt.Fprintf(&b, "%s%v %g\n", x.Name, x.Labels, x.Value)
	}
	return b.String()
}

func matches(labels map[string]string, match []string) bool {
	for i := 0; i+1 < len(match); i += 2 {
		if labels[match[i]] != match[i+1] {
			return false
		}
	}
	return true
}
