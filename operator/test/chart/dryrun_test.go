package chart

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// renderings are the chart's two example configurations.
func renderings(t testing.TB) map[string][]string {
	return map[string][]string{
		"default values": nil,
		"full values":    {"--values", fullValues(t)},
	}
}

func TestRenderedObjectsAreAcceptedByTheAPIServer(t *testing.T) {
	ensureNamespace(t)
	for name, args := range renderings(t) {
		t.Run(name, func(t *testing.T) {
			objs := render(t, args...)
			kinds := map[string]int{}
			for _, o := range objs {
				kinds[o.GetKind()]++
				if err := dryRunApply(t, o); err != nil {
					t.Errorf("%s %s refused: %v", o.GetKind(), o.GetName(), err)
				}
				if w := cluster.warnings.take(); len(w) > 0 {
					t.Errorf("%s %s drew warnings: %s", o.GetKind(), o.GetName(), strings.Join(w, "; "))
				}
			}
			want := map[string]int{"Deployment": 1, "ServiceAccount": 1, "ClusterRole": 2, "ClusterRoleBinding": 1,
				"Role": 2, "RoleBinding": 2, "Service": 1, "NetworkPolicy": 1, "PodDisruptionBudget": 1, "Pod": 1,
				"ValidatingAdmissionPolicy": 2, "ValidatingAdmissionPolicyBinding": 2}
			if name == "full values" {
				want["Community"], want["ServiceMonitor"], want["PrometheusRule"], want["ConfigMap"] = 2, 1, 1, 3
			}
			for kind, n := range want {
				if kinds[kind] != n {
					t.Errorf("rendered %d %s, want %d (all: %v)", kinds[kind], kind, n, kinds)
				}
			}
		})
	}
}

// The dry run above proves something only if it can fail: the same API
// server refuses a rendered object with an unknown field, a Community that
// breaks the CRD's validation, and one whose name breaks its CEL rule.
func TestDryRunRefusesInvalidObjects(t *testing.T) {
	ensureNamespace(t)
	objs := render(t, "--values", fullValues(t))
	deployment, community := find(objs, "Deployment")[0], find(objs, "Community")[0]

	cases := []struct {
		name   string
		obj    *unstructured.Unstructured
		change func(*unstructured.Unstructured)
		want   string
	}{
		{"unknown field in a Deployment", deployment, func(o *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(o.Object, int64(3), "spec", "replicaCount")
		}, "replicaCount"},
		{"Community with zero partitions", community, func(o *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(o.Object, int64(0), "spec", "kafka", "partitions")
		}, "spec.kafka.partitions"},
		{"Community without a Temporal address", community, func(o *unstructured.Unstructured) {
			unstructured.RemoveNestedField(o.Object, "spec", "temporal", "address")
		}, "spec.temporal.address"},
		{"Community whose name is no DNS label", community, func(o *unstructured.Unstructured) {
			o.SetName("climate--action")
		}, "name must be"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.obj.DeepCopy()
			c.change(o)
			err := dryRunApply(t, o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want a refusal naming %q", err, c.want)
			}
		})
	}
}
