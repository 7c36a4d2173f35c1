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
// (operator/config/rbac/role.yaml): each ClusterRole's and each Role's
// rules, the Role generated for kinship-system in the release namespace.
// Release "kinship" names them as controller-gen does (kinship-operator,
// kinship-operator-instance), so the bind rule's resource name matches too;
// the token rule names the chart's service account, which the markers
// call kinship-operator.
func TestChartRBACIsTheGeneratedOne(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repo.Root(t), "operator", "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	generated, err := splitManifests(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	key := func(o *unstructured.Unstructured) string {
		ns := o.GetNamespace()
		if ns == "kinship-system" {
			ns = namespace // the release namespace
		}
		return o.GetKind() + " " + ns + "/" + o.GetName()
	}
	for name, args := range renderings(t) {
		t.Run(name, func(t *testing.T) {
			objs := render(t, args...)
			rendered := map[string]*unstructured.Unstructured{}
			for _, kind := range []string{"ClusterRole", "Role"} {
				for _, o := range find(objs, kind) {
					rendered[key(o)] = o
				}
			}
			accounts := find(objs, "ServiceAccount")
			if len(accounts) != 1 {
				t.Fatalf("the chart renders %d service accounts, want the operator's", len(accounts))
			}
			account := accounts[0].GetName()
			if len(rendered) != len(generated) {
				t.Errorf("the chart renders %d roles, the markers generate %d", len(rendered), len(generated))
			}
			for _, want := range generated {
				got, ok := rendered[key(want)]
				if !ok {
					t.Errorf("the chart renders no %s", key(want))
					continue
				}
				g := rules(t, got)
				for i := range g {
					for j, name := range g[i].ResourceNames {
						if name == account && slices.Equal(g[i].Resources, []string{"serviceaccounts/token"}) {
							g[i].ResourceNames[j] = "kinship-operator"
						}
					}
				}
				if w := rules(t, want); !slices.EqualFunc(w, g, ruleEqual) {
					t.Errorf("%s rules differ from operator/config/rbac/role.yaml\n got: %+v\nwant: %+v", key(want), g, w)
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
