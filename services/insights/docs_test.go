package insights_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/kinshiphq/kinship/services/insights/domain"
)

var update = flag.Bool("update", false, "rewrite the catalogue in docs/insights.md")

const (
	catalogueStart = "<!-- catalogue:start -->\n"
	catalogueEnd   = "<!-- catalogue:end -->"
)

// TestTheDocumentedCatalogueIsTheCodes keeps docs/insights.md's table of
// metrics the catalogue's; `go test ./services/insights -run Catalogue
// -update` rewrites it.
func TestTheDocumentedCatalogueIsTheCodes(t *testing.T) {
	const path = "../../docs/insights.md"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, catalogueStart), strings.Index(doc, catalogueEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no catalogue markers", path)
	}
	want := domain.CatalogueMarkdown()
	if got := doc[i+len(catalogueStart) : j]; got != want {
		if *update {
			if err := os.WriteFile(path, []byte(doc[:i+len(catalogueStart)]+want+doc[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("docs/insights.md lists another catalogue than the code; run go test ./services/insights -run Catalogue -update")
	}
	for _, m := range domain.Catalogue() {
		if strings.Count(doc, "`"+m.Name+"`") < 1 {
			t.Errorf("docs/insights.md does not name %s", m.Name)
		}
	}
}
