package telemetry_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kinshiphq/kinship/internal/telemetry"
)

// dashboardGlobs are where Grafana dashboards live: the chart's.
func dashboardGlobs() []string {
	return []string{filepath.Join(repoRoot, "charts", "kinship", "dashboards", "*.json")}
}

// ruleFiles hold Prometheus alerting rules: the groups the chart's
// PrometheusRule inserts.
func ruleFiles() []string {
	return []string{filepath.Join(repoRoot, "charts", "kinship", "rules", "kinship.yaml")}
}

// Every series a dashboard or an alert queries is one the catalogue lists
// — emitted by Kinship's code or by a named exporter — under the name it
// is scraped as.
func TestDashboardsAndAlertsQueryOnlyCataloguedSeries(t *testing.T) {
	queries := map[string][]string{} // file → expressions
	for _, glob := range dashboardGlobs() {
		files, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			queries[f] = append(queries[f], dashboardQueries(t, f)...)
		}
	}
	for _, f := range ruleFiles() {
		raw, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		queries[f] = append(queries[f], ruleExpressions(string(raw))...)
	}
	if len(queries) == 0 {
		t.Fatal("no dashboard or rule found")
	}
	for file, exprs := range queries {
		if len(exprs) == 0 {
			t.Errorf("%s queries nothing", file)
		}
		for _, expr := range exprs {
			for _, name := range seriesNames(expr) {
				if _, ok := telemetry.Scraped(name); !ok {
					t.Errorf("%s queries %s, which no code and no listed exporter emits (expression: %s)", file, name, expr)
				}
			}
		}
	}
}

func dashboardQueries(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
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
	var out []string
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			out = append(out, target.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			if s, ok := q["query"].(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// ruleExpressions finds the expr: blocks of a rules file (plain YAML or a
// Helm template of it).
func ruleExpressions(raw string) []string {
	var out []string
	lines := strings.Split(raw, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		rest, ok := strings.CutPrefix(line, "expr:")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		if rest != "|" && rest != ">" && rest != "|-" && rest != ">-" {
			out = append(out, rest)
			continue
		}
		indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
		var block []string
		for i+1 < len(lines) {
			next := lines[i+1]
			if strings.TrimSpace(next) != "" && len(next)-len(strings.TrimLeft(next, " ")) <= indent {
				break
			}
			block = append(block, next)
			i++
		}
		out = append(out, strings.Join(block, "\n"))
	}
	return out
}

var (
	promStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping  = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promOffsets   = regexp.MustCompile(`\boffset\s+-?[0-9a-z]+`)
	promVariables = regexp.MustCompile(`\$\{?[A-Za-z_]+\}?`)
	promIdent     = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	labelValues   = regexp.MustCompile(`label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)`)
	// promWords are PromQL's keywords and the functions' names are
	// recognised by the parenthesis after them.
	promWords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
		"group_left": true, "group_right": true}
)

// seriesNames returns the metric names of a PromQL expression (or of a
// Grafana label_values query): identifiers that are neither functions,
// keywords, label names nor Grafana variables.
func seriesNames(expr string) []string {
	if m := labelValues.FindStringSubmatch(expr); m != nil {
		return []string{m[1]}
	}
	s := promStrings.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, "{}")
	s = promRanges.ReplaceAllString(s, "")
	s = promGrouping.ReplaceAllString(s, "")
	s = promOffsets.ReplaceAllString(s, "")
	s = promVariables.ReplaceAllString(s, "")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		after := strings.TrimLeft(s[loc[1]:], " \t\n")
		numeric := loc[0] > 0 && (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9' || s[loc[0]-1] == '.') // 1e3
		if numeric || promWords[strings.ToLower(name)] || strings.HasPrefix(after, "(") {
			continue
		}
		out = append(out, name)
	}
	return out
}

func TestSeriesNamesFindsTheMetricsOfAnExpression(t *testing.T) {
	tests := map[string]string{
		`sum by (le, service_name) (rate(rpc_server_call_duration_seconds_bucket{community=~"$community"}[$__rate_interval]))`: "rpc_server_call_duration_seconds_bucket",
		`a_total / on (job) group_left b_total > 0.5 and c offset 5m`:                                                          "a_total,b_total,c",
		`label_values(kinship_journeys, community)`:                                                                            "kinship_journeys",
		`histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > (14.4 * 0.005)`:                                          "x_bucket",
	}
	for expr, want := range tests {
		if got := strings.Join(seriesNames(expr), ","); got != want {
			t.Errorf("seriesNames(%s) = %s, want %s", expr, got, want)
		}
	}
}
