package controller

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// The operator's identity in the tests: the service account the chart
// creates for release "kinship" in kinship-system.
const operatorServiceAccount = "kinship-operator"

func operatorSubject() rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: operatorServiceAccount, Namespace: secretsNamespace}
}

func operatorUser() string {
	return "system:serviceaccount:" + secretsNamespace + ":" + operatorServiceAccount
}

// operatorConfig is cfg acting as the operator's service account.
func operatorConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{
		UserName: operatorUser(),
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + secretsNamespace, "system:authenticated"},
	}
	return c
}

// apiServer is the envtest API server's host:port.
func apiServer(cfg *rest.Config) string {
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return ""
	}
	return u.Host
}

// generatedRBAC reads the roles controller-gen writes from the RBAC
// markers.
func generatedRBAC() ([]*unstructured.Unstructured, error) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "role.yaml"))
	if err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	var out []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

// applyOperatorRBAC creates the generated roles and binds them to the
// operator's service account as the chart does: the ClusterRole
// kinship-operator cluster-wide, each Role in its namespace. The instance
// role is bound by the operator itself, in each instance namespace.
func applyOperatorRBAC(ctx context.Context, k8s client.Client) error {
	objs, err := generatedRBAC()
	if err != nil {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: secretsNamespace, Name: operatorServiceAccount}}
	if err := k8s.Create(ctx, sa); err != nil {
		return err
	}
	subjects := []rbacv1.Subject{operatorSubject()}
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			return fmt.Errorf("create %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		var binding client.Object
		switch {
		case o.GetKind() == "ClusterRole" && o.GetName() == "kinship-operator":
			binding = &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: o.GetName()}, Subjects: subjects,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: o.GetName()}}
		case o.GetKind() == "Role":
			binding = &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: o.GetNamespace(), Name: o.GetName()}, Subjects: subjects,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: o.GetName()}}
		default:
			continue
		}
		if err := k8s.Create(ctx, binding); err != nil {
			return fmt.Errorf("bind %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}

// adminKubeconfig writes a cluster admin's kubeconfig for kubectl.
func adminKubeconfig(testEnv *envtest.Environment) (string, error) {
	admin, err := testEnv.AddUser(envtest.User{Name: "rbac-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	raw, err := admin.KubeConfig()
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "operator-test-kubeconfig-")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(raw); err != nil {
		return "", err
	}
	return f.Name(), f.Chmod(0o600)
}

// canIList runs `kubectl auth can-i --list` as the operator in namespace
// ns and returns, per resource (resource[.group], with /names when the
// rule names objects), its verbs. Non-resource URLs are left out.
func canIList(t *testing.T, ns string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", env.kubeconfig, "auth", "can-i", "--list",
		"--as", operatorUser(), "--as-group", "system:serviceaccounts", "--as-group", "system:serviceaccounts:"+secretsNamespace,
		"--as-group", "system:authenticated", "--namespace", ns)
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("kubectl auth can-i --list -n %s: %v\n%s", ns, err, exit.Stderr)
		}
		t.Fatalf("kubectl: %v", err)
	}
	rows := map[string]string{}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, line := range lines[1:] { // the header
		// Resources  Non-Resource URLs  Resource Names  Verbs
		m := canIRow.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("kubectl auth can-i --list printed %q", line)
		}
		resource, names, verbs := m[1], m[3], m[4]
		if resource == "" {
			continue // a non-resource URL
		}
		if names != "[]" {
			resource += "/" + strings.Trim(names, "[]")
		}
		rows[resource] = verbs
	}
	return rows
}

// canIRow is a row of `kubectl auth can-i --list`: resource (empty for a
// non-resource URL), non-resource URLs, resource names, verbs.
var canIRow = regexp.MustCompile(`^(\S*)\s+(\[[^\]]*\])\s+(\[[^\]]*\])\s+(\[[^\]]*\])\s*$`)

// What every authenticated user may do (system:basic-user), in every
// namespace.
var everyone = map[string]string{
	"selfsubjectreviews.authentication.k8s.io":      "[create]",
	"selfsubjectaccessreviews.authorization.k8s.io": "[create]",
	"selfsubjectrulesreviews.authorization.k8s.io":  "[create]",
	"clustertrustbundles.certificates.k8s.io":       "[get list watch]",
}

// clusterWide is what the operator may do in every namespace: watch
// Communities and namespaces, and create the first RoleBinding of each
// instance namespace, which may bind only the instance role.
var clusterWide = map[string]string{
	"namespaces":                                             "[create get list patch update watch]",
	"communities.kinship.dev":                                "[get list patch update watch]",
	"communities.kinship.dev/finalizers":                     "[update]",
	"communities.kinship.dev/status":                         "[get patch update]",
	"rolebindings.rbac.authorization.k8s.io":                 "[create]",
	"clusterroles.rbac.authorization.k8s.io/" + InstanceRole: "[bind]",
}

func with(base ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range base {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// The operator's permissions, as `kubectl auth can-i --list` reports them
// for its service account: no Secret anywhere but in its own namespace
// (read only: the platform's settings) and in the instance namespaces it
// created (through the RoleBinding it made there); workloads are written
// only in instance namespaces.
func TestTheOperatorMayReadSecretsOnlyWhereItMust(t *testing.T) {
	f := newFixture(t, "rbac")
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	// A namespace that merely looks like an instance namespace.
	lookalike := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kinship-lookalike"}}
	if err := env.k8s.Create(context.Background(), lookalike); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	instance := map[string]string{
		"secrets":                                "[create delete get list patch update watch]",
		"configmaps":                             "[create get list patch update watch]",
		"serviceaccounts":                        "[create get list patch update watch]",
		"services":                               "[create delete get list patch update watch]",
		"deployments.apps":                       "[create delete get list patch update watch]",
		"poddisruptionbudgets.policy":            "[create delete get list patch update watch]",
		"networkpolicies.networking.k8s.io":      "[create delete get list patch update watch]",
		"ingresses.networking.k8s.io":            "[create delete get list patch update watch]",
		"rolebindings.rbac.authorization.k8s.io": "[create get list patch update watch]",
	}
	for _, tc := range []struct {
		ns   string
		want map[string]string
	}{
		{"kube-system", with(everyone, clusterWide)},
		{"kinship-lookalike", with(everyone, clusterWide)},
		{"default", with(everyone, clusterWide, map[string]string{"events.events.k8s.io": "[create patch]"})},
		{secretsNamespace, with(everyone, clusterWide, map[string]string{
			"secrets": "[get]",
			// Tokens of its own service account alone, to call the
			// instances' insights services.
			"serviceaccounts/token/" + operatorServiceAccount: "[create]",
			"events":                     "[create patch]",
			"leases.coordination.k8s.io": "[create delete get list patch update watch]",
		})},
		{f.ns(), with(everyone, clusterWide, instance)},
	} {
		t.Run(tc.ns, func(t *testing.T) {
			got := canIList(t, tc.ns)
			for resource, verbs := range tc.want {
				if got[resource] != verbs {
					t.Errorf("%s: %s, want %s", resource, orNone(got[resource]), verbs)
				}
			}
			for resource, verbs := range got {
				if _, ok := tc.want[resource]; !ok {
					t.Errorf("%s: %s, want nothing", resource, verbs)
				}
			}
		})
	}
}

func orNone(verbs string) string {
	if verbs == "" {
		return "nothing"
	}
	return verbs
}

// The instance role grants exactly the kinds the operator keeps in an
// instance namespace (instanceKinds): the list and the markers cannot
// drift apart.
func TestTheInstanceRoleCoversTheInstanceKinds(t *testing.T) {
	objs, err := generatedRBAC()
	if err != nil {
		t.Fatal(err)
	}
	var role *rbacv1.ClusterRole
	for _, o := range objs {
		if o.GetKind() == "ClusterRole" && o.GetName() == InstanceRole {
			role = &rbacv1.ClusterRole{}
			if err := runtimeConvert(o, role); err != nil {
				t.Fatal(err)
			}
		}
	}
	if role == nil {
		t.Fatalf("config/rbac/role.yaml has no ClusterRole %s: run make generate", InstanceRole)
	}
	var granted []string
	for _, rule := range role.Rules {
		for _, g := range rule.APIGroups {
			for _, r := range rule.Resources {
				if slices.Contains(rule.Verbs, "watch") && slices.Contains(rule.Verbs, "update") {
					granted = append(granted, r+"."+g)
				}
			}
		}
	}
	mapper := env.k8s.RESTMapper()
	var kinds []string
	for _, obj := range instanceKinds() {
		gvk, err := apiutil.GVKForObject(obj, env.scheme)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, m.Resource.Resource+"."+m.Resource.Group)
	}
	slices.Sort(granted)
	slices.Sort(kinds)
	if !slices.Equal(granted, kinds) {
		t.Errorf("the instance role lets the operator watch and update %v, but it keeps %v in an instance namespace: make the markers in owned.go match instanceKinds", granted, kinds)
	}
}

// A namespace named like a Community's instance namespace that the
// Community did not create is never taken over: the operator neither
// relabels it nor binds its role there, so a Community cannot give the
// operator access to another team's namespace.
func TestANamespaceTheCommunityDidNotCreateIsNotTakenOver(t *testing.T) {
	ctx := context.Background()
	squatted := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kinship-squat", Labels: map[string]string{"team": "other"}}}
	if err := env.k8s.Create(ctx, squatted); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, "squat")
	f.create(t)
	f.cleanup(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionWorkloadsReady, metav1.ConditionFalse, "NamespaceNotOwned")
	var ns corev1.Namespace
	if err := env.k8s.Get(ctx, client.ObjectKey{Name: "kinship-squat"}, &ns); err != nil {
		t.Fatal(err)
	}
	if len(ns.OwnerReferences) > 0 || ns.Labels[resources.LabelManagedBy] != "" {
		t.Errorf("the operator took the namespace over: owners %v, labels %v", ns.OwnerReferences, ns.Labels)
	}
	var bindings rbacv1.RoleBindingList
	if err := env.k8s.List(ctx, &bindings, client.InNamespace("kinship-squat")); err != nil {
		t.Fatal(err)
	}
	if len(bindings.Items) > 0 {
		t.Errorf("the operator bound a role in a namespace it did not create: %v", bindings.Items[0].Name)
	}
}

func runtimeConvert(u *unstructured.Unstructured, into any) error {
	raw, err := u.MarshalJSON()
	if err != nil {
		return err
	}
	return yaml.Unmarshal(raw, into)
}
