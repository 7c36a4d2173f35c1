// Package skaffold checks skaffold.yaml, since skaffold itself cannot be
// installed here: every artifact, path, chart and values key it names
// exists, each profile's values pass the chart's schema and render.
package skaffold

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kinshiphq/kinship/operator/test/internal/repo"
)

// config is the part of a skaffold config these tests read.
type config struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Build      struct {
		Artifacts []artifact `json:"artifacts"`
	} `json:"build"`
	Deploy struct {
		Helm struct {
			Releases []release `json:"releases"`
		} `json:"helm"`
	} `json:"deploy"`
}

type artifact struct {
	Image   string `json:"image"`
	Context string `json:"context"`
	Ko      *struct {
		Main         string   `json:"main"`
		Dir          string   `json:"dir"`
		Flags        []string `json:"flags"`
		Dependencies struct {
			Paths []string `json:"paths"`
		} `json:"dependencies"`
	} `json:"ko"`
}

type release struct {
	Name              string            `json:"name"`
	ChartPath         string            `json:"chartPath"`
	Namespace         string            `json:"namespace"`
	ValuesFiles       []string          `json:"valuesFiles"`
	SetValues         map[string]any    `json:"setValues"`
	SetValueTemplates map[string]string `json:"setValueTemplates"`
}

// effectiveConfigs reads skaffold.yaml and returns the config as it is
// without a profile ("default") and with each profile's patches applied.
func effectiveConfigs(t *testing.T, root string) map[string]config {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "skaffold.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	profiles, _ := doc["profiles"].([]any)
	delete(doc, "profiles")
	out := map[string]config{"default": decode(t, doc)}
	for _, p := range profiles {
		profile := p.(map[string]any)
		name, _ := profile["name"].(string)
		for key := range profile {
			if !slices.Contains([]string{"name", "activation", "patches"}, key) {
				t.Fatalf("profile %s sets %q: these tests read only patches; express it as a patch", name, key)
			}
		}
		patched := deepCopy(doc).(map[string]any)
		patches, _ := profile["patches"].([]any)
		for _, raw := range patches {
			p := raw.(map[string]any)
			if err := applyPatch(patched, p["op"].(string), p["path"].(string), p["value"]); err != nil {
				t.Fatalf("profile %s: %v", name, err)
			}
		}
		out[name] = decode(t, patched)
	}
	return out
}

func decode(t *testing.T, doc map[string]any) config {
	t.Helper()
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var c config
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// applyPatch applies one JSON patch operation (add or replace, as
// skaffold's profiles use them) to doc.
func applyPatch(doc map[string]any, op, path string, value any) error {
	if op != "add" && op != "replace" {
		return fmt.Errorf("patch op %q not understood by this test", op)
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var cur any = doc
	for i, part := range parts {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		last := i == len(parts)-1
		switch node := cur.(type) {
		case map[string]any:
			if last {
				if _, ok := node[part]; op == "replace" && !ok {
					return fmt.Errorf("replace %s: nothing there", path)
				}
				node[part] = value
				return nil
			}
			next, ok := node[part]
			if !ok {
				return fmt.Errorf("patch %s: no %q", path, part)
			}
			cur = next
		case []any:
			n, err := strconv.Atoi(part)
			if err != nil || n < 0 || n >= len(node) {
				return fmt.Errorf("patch %s: no element %q", path, part)
			}
			if last {
				node[n] = value
				return nil
			}
			cur = node[n]
		default:
			return fmt.Errorf("patch %s: %q is not an object or list", path, part)
		}
	}
	return nil
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = deepCopy(e)
		}
		return s
	default:
		return v
	}
}

func TestSkaffoldHasTheProfilesTheDocsName(t *testing.T) {
	configs := effectiveConfigs(t, repo.Root(t))
	for _, name := range []string{"default", "dev", "ci"} {
		c, ok := configs[name]
		if !ok {
			t.Errorf("no profile %s", name)
			continue
		}
		if !strings.HasPrefix(c.APIVersion, "skaffold/v4") || c.Kind != "Config" {
			t.Errorf("%s: apiVersion %q kind %q, want skaffold/v4… Config", name, c.APIVersion, c.Kind)
		}
		if len(c.Build.Artifacts) != 2 || len(c.Deploy.Helm.Releases) != 1 {
			t.Errorf("%s: %d artifacts and %d releases, want the 2 images and the chart", name, len(c.Build.Artifacts), len(c.Deploy.Helm.Releases))
		}
	}
}
