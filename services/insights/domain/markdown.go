package domain

import (
	"fmt"
	"strings"
)

// CatalogueMarkdown is the catalogue as the table docs/insights.md shows
// (a test keeps the two the same).
func CatalogueMarkdown() string {
	kinds := map[Kind]string{KindStock: "level", KindFlow: "count", KindRatio: "ratio", KindQuantile: "quantile"}
	var b strings.Builder
	b.WriteString("| metric | meaning | formula | unit | kind | source events |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, m := range Catalogue() {
		kind := kinds[m.Kind]
		if m.Better == Down {
			kind += ", lower is better"
		}
		if m.Breakdown != "" {
			kind += ", by " + m.Breakdown
		}
		if m.Segmentable {
			kind += ", segments"
		}
		sources := make([]string, len(m.Sources))
		for i, s := range m.Sources {
			sources[i] = "`" + strings.TrimPrefix(s, "kinship.") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", m.Name, esc(m.Meaning), esc(m.Formula), m.Unit, kind, strings.Join(sources, ", "))
	}
	return b.String()
}

func esc(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
