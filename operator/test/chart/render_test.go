package chart

import (
	"bufio"
	"errors"
	"fmt"
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

// A Community's kafka and temporal specs carry the platform's TLS and SASL
// settings, with the Secrets in the release namespace; a community's own
// tls or sasl replaces the platform's whole, so it can turn TLS off.
func TestCommunitiesCarryKafkaAndTemporalSecurity(t *testing.T) {
	communities := find(render(t, "--values", fullValues(t)), "Community")
	if len(communities) != 2 {
		t.Fatalf("%d Communities rendered, want 2", len(communities))
	}
	want := map[string]map[string]string{
		"climate-action": {
			"kafka.tls.enabled": "true", "kafka.tls.secretRef.namespace": namespace, "kafka.tls.secretRef.name": "kinship-cluster-ca-cert",
			"kafka.tls.serverName": "kinship-kafka-bootstrap.kafka.svc", "kafka.sasl.mechanism": "SCRAM-SHA-512", "kafka.sasl.username": "kinship",
			"kafka.sasl.passwordSecretRef.namespace": namespace, "kafka.sasl.passwordSecretRef.name": "kinship-kafka-user",
			"kafka.sasl.passwordSecretRef.key": "password", "temporal.tls.enabled": "true",
			"temporal.tls.secretRef.name": "temporal-client-tls", "temporal.tls.serverName": "temporal-frontend.temporal.svc",
		},
		"mind-matters": {
			"kafka.tls": "<none>", "kafka.sasl.mechanism": "PLAIN", "kafka.sasl.username": "mind-matters",
			"kafka.sasl.passwordSecretRef.name": "kafka-b-user", "kafka.sasl.passwordSecretRef.key": "pw",
			"temporal.tls.enabled": "true", "temporal.tls.secretRef": "<none>", "temporal.tls.serverName": "<none>",
		},
	}
	for _, c := range communities {
		for path, w := range want[c.GetName()] {
			fields := append([]string{"spec"}, strings.Split(path, ".")...)
			got, found, err := unstructured.NestedFieldNoCopy(c.Object, fields...)
			s := fmt.Sprint(got)
			if !found || err != nil {
				s = "<none>"
			}
			if s != w {
				t.Errorf("%s: spec.%s = %s, want %s", c.GetName(), path, s, w)
			}
		}
	}
}
