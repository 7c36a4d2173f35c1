package chart

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kinshiphq/kinship/operator/test/internal/repo"
)

// The chart's CRDs are `make chart-crds`'s verbatim copies of what
// controller-gen writes to operator/config/crd/bases.
func TestChartCRDsAreTheGeneratedOnes(t *testing.T) {
	root := repo.Root(t)
	generated := filepath.Join(root, "operator", "config", "crd", "bases")
	copied := filepath.Join(root, "charts", "kinship", "crds")
	want, got := yamlFiles(t, generated), yamlFiles(t, copied)
	if !slices.Equal(want, got) {
		t.Fatalf("charts/kinship/crds holds %v, operator/config/crd/bases %v: run make chart-crds", got, want)
	}
	for _, name := range want {
		a, err := os.ReadFile(filepath.Join(generated, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(copied, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("charts/kinship/crds/%s differs from the generated CRD: run make chart-crds (never edit it by hand)", name)
		}
	}
}

func yamlFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	slices.Sort(files)
	return files
}

// The chart grants the operator exactly what its RBAC markers generate
// (operator/config/rbac/role.yaml): the ClusterRole's rules, and the
// Role's in the release namespace instead of kinship-system.
func TestChartRBACIsTheGeneratedOne(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repo.Root(t), "operator", "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	generated, err := splitManifests(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	for name, args := range renderings(t) {
		t.Run(name, func(t *testing.T) {
			rendered := render(t, args...)
			for _, kind := range []string{"ClusterRole", "Role"} {
				want, got := find(generated, kind), find(rendered, kind)
				if len(want) != 1 || len(got) != 1 {
					t.Fatalf("%d generated and %d rendered %ss, want one each", len(want), len(got), kind)
				}
				if kind == "Role" && got[0].GetNamespace() != namespace {
					t.Errorf("Role in %q, want the release namespace %q (leader election's lease lives there)", got[0].GetNamespace(), namespace)
				}
				if w, g := rules(t, want[0]), rules(t, got[0]); !slices.EqualFunc(w, g, ruleEqual) {
					t.Errorf("%s rules differ from operator/config/rbac/role.yaml\n got: %+v\nwant: %+v", kind, g, w)
				}
			}
		})
	}
}

func rules(t testing.TB, o *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	var role rbacv1.ClusterRole // a Role's rules have the same shape
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, &role, true); err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
	return role.Rules
}

func ruleEqual(a, b rbacv1.PolicyRule) bool {
	return slices.Equal(a.APIGroups, b.APIGroups) && slices.Equal(a.Resources, b.Resources) &&
		slices.Equal(a.Verbs, b.Verbs) && slices.Equal(a.ResourceNames, b.ResourceNames) &&
		slices.Equal(a.NonResourceURLs, b.NonResourceURLs)
}
