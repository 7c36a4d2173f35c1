package chart

import (
	"bufio"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kinshiphq/kinship/operator/test/internal/repo"
)

const (
	release   = "kinship"
	namespace = "kinship-system"
)

// chartDir is charts/kinship.
func chartDir(t testing.TB) string { return filepath.Join(repo.Root(t), "charts", "kinship") }

// fullValues is the example that sets every value.
func fullValues(t testing.TB) string { return filepath.Join(chartDir(t), "ci", "full-values.yaml") }

// helmTemplate renders the chart as `helm template` does for release
// kinship in kinship-system; args add values (-f, --set).
func helmTemplate(t testing.TB, args ...string) (string, error) {
	t.Helper()
	base := []string{"template", release, chartDir(t), "--namespace", namespace, "--kube-version", repo.KubeVersion}
	return repo.Helm(repo.Root(t), append(base, args...)...)
}

// render is helmTemplate that must succeed, split into objects.
func render(t testing.TB, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := helmTemplate(t, args...)
	if err != nil {
		t.Fatalf("helm template %v: %v", args, err)
	}
	objs, err := splitManifests(out)
	if err != nil {
		t.Fatalf("helm template %v: %v", args, err)
	}
	return objs
}

// splitManifests parses a multi-document YAML stream into objects,
// skipping empty documents.
func splitManifests(s string) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(s)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// find returns the rendered objects of one kind.
func find(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}
