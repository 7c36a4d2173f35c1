package skaffold

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kinshiphq/kinship/operator/test/internal/repo"
)

// Every release deploys a chart that exists, with values files that exist,
// values keys the chart's schema declares and image templates that name a
// built artifact; and helm renders the chart with exactly those values.
func TestReleasesDeployTheChartWithValuesItDeclares(t *testing.T) {
	root := repo.Root(t)
	for profile, c := range effectiveConfigs(t, root) {
		for _, r := range c.Deploy.Helm.Releases {
			t.Run(profile+"/"+r.Name, func(t *testing.T) {
				chart := filepath.Join(root, r.ChartPath)
				if _, err := os.Stat(filepath.Join(chart, "Chart.yaml")); err != nil {
					t.Fatalf("chartPath %s: %v", r.ChartPath, err)
				}
				for _, f := range r.ValuesFiles {
					if _, err := os.Stat(filepath.Join(root, f)); err != nil {
						t.Errorf("valuesFiles: %v", err)
					}
				}
				schema := loadSchema(t, filepath.Join(chart, "values.schema.json"))
				args := []string{"template", r.Name, chart, "--namespace", r.Namespace, "--kube-version", repo.KubeVersion}
				for _, key := range sortedKeys(r.SetValues) {
					if err := schema.declares(key); err != nil {
						t.Errorf("setValues %s: %v", key, err)
					}
					args = append(args, "--set", fmt.Sprintf("%s=%v", key, r.SetValues[key]))
				}
				for _, key := range sortedKeys(r.SetValueTemplates) {
					if err := schema.declares(key); err != nil {
						t.Errorf("setValueTemplates %s: %v", key, err)
					}
					value, err := expandImageTemplate(r.SetValueTemplates[key], c.Build.Artifacts)
					if err != nil {
						t.Errorf("setValueTemplates %s: %v", key, err)
					}
					args = append(args, "--set", key+"="+value)
				}
				out, err := repo.Helm(root, args...)
				if err != nil {
					t.Fatalf("helm template with the %s profile's values: %v", profile, err)
				}
				if want := "image: registry.example.org/kinship-operator:tag-kinship-operator"; !strings.Contains(out, want) {
					t.Errorf("the operator's image is not the built one: no %q in the rendering", want)
				}
				communities := strings.Count(out, "\nkind: Community\n")
				if profile == "dev" && (communities != 1 || !strings.Contains(out, "repository: registry.example.org/kinship\n")) {
					t.Errorf("dev renders %d Communities (want the demo one, running the built kinship image)", communities)
				}
			})
		}
	}
}

var imageTemplate = regexp.MustCompile(`\{\{\s*\.IMAGE_(REPO|TAG|DIGEST)_([A-Za-z0-9_]+)\s*\}\}`)

// expandImageTemplate fills skaffold's {{.IMAGE_REPO_<artifact>}} and
// {{.IMAGE_TAG_<artifact>}} as skaffold would (the artifact's image name
// with every other character than letters and digits made "_"), failing
// when no artifact has that name.
func expandImageTemplate(tmpl string, artifacts []artifact) (string, error) {
	var errs []string
	out := imageTemplate.ReplaceAllStringFunc(tmpl, func(m string) string {
		sub := imageTemplate.FindStringSubmatch(m)
		i := slices.IndexFunc(artifacts, func(a artifact) bool { return sanitize(a.Image) == sub[2] })
		if i < 0 {
			errs = append(errs, "no artifact "+sub[2])
			return m
		}
		switch sub[1] {
		case "REPO":
			return "registry.example.org/" + artifacts[i].Image
		case "TAG":
			return "tag-" + artifacts[i].Image
		}
		return "sha256:0"
	})
	if strings.Contains(out, "{{") {
		errs = append(errs, "template left unexpanded: "+out)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

func sanitize(image string) string {
	return regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(image, "_")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// schemaNode is the part of a JSON schema that declares where values go.
type schemaNode struct {
	Ref                  string                 `json:"$ref"`
	Properties           map[string]*schemaNode `json:"properties"`
	Items                *schemaNode            `json:"items"`
	AdditionalProperties json.RawMessage        `json:"additionalProperties"`
	Definitions          map[string]*schemaNode `json:"definitions"`
	root                 *schemaNode
}

func loadSchema(t *testing.T, path string) *schemaNode {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s schemaNode
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	s.root = &s
	return &s
}

var keyPart = regexp.MustCompile(`^([A-Za-z0-9_-]+)((?:\[[0-9]+\])*)$`)

// declares checks that a helm --set key such as communities[0].name names
// a value the schema declares.
func (s *schemaNode) declares(key string) error {
	node := s
	for _, part := range strings.Split(key, ".") {
		m := keyPart.FindStringSubmatch(part)
		if m == nil {
			return fmt.Errorf("cannot read %q", part)
		}
		node = s.resolve(node)
		next, ok := node.Properties[m[1]]
		if !ok {
			return fmt.Errorf("the chart's values.schema.json declares no %q here", m[1])
		}
		node = next
		for range strings.Count(m[2], "[") {
			node = s.resolve(node)
			if node.Items == nil {
				return fmt.Errorf("%q is not a list", m[1])
			}
			node = node.Items
		}
	}
	return nil
}

func (s *schemaNode) resolve(n *schemaNode) *schemaNode {
	for n.Ref != "" {
		n = s.root.Definitions[strings.TrimPrefix(n.Ref, "#/definitions/")]
	}
	return n
}
