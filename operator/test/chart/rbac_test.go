package chart

import (
	"fmt"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// operatorUser is the operator's service account as the chart names it
// for release kinship with the default values.
const operatorUser = "system:serviceaccount:" + namespace + ":kinship-operator"

// installRBAC creates what the chart renders for the operator's
// permissions — its service account, roles, bindings and admission
// policies — for real, and returns a client acting as the operator.
func installRBAC(t *testing.T) client.Client {
	t.Helper()
	ensureNamespace(t)
	for _, o := range render(t) {
		switch o.GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
			"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
		default:
			continue
		}
		if err := cluster.k8s.Create(ctx(t), o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	cfg := rest.CopyConfig(cluster.cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: operatorUser,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// may asks the API server whether the operator may do verb on resource in
// ns.
func may(t *testing.T, verb, group, resource, ns string) bool {
	t.Helper()
	r := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               operatorUser,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: group, Resource: resource},
	}}
	if err := cluster.k8s.Create(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	return r.Status.Allowed
}

// With the chart's RBAC the operator reads Secrets only in its own
// namespace (get, the platform's settings) and in the instance namespaces
// where it bound its instance role, and writes workloads only there.
// RBAC cannot keep it from creating RoleBindings elsewhere — the first
// one of a namespace that does not exist yet needs a cluster-wide grant —
// so the chart's admission policies do: the operator binds only its
// instance role, only in kinship-* namespaces it manages, and changes no
// other namespace.
func TestTheChartHoldsTheOperatorToItsNamespaces(t *testing.T) {
	operator := installRBAC(t)
	instance := "kinship-rbac-check"
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: instance,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "kinship-operator"}}}
	if err := operator.Create(ctx(t), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("the operator could not create its instance namespace: %v", err)
	}
	binding := func(ns, role string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kinship-operator"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: "kinship-operator"}},
		}
	}
	if err := operator.Create(ctx(t), binding(instance, "kinship-operator-instance")); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("the operator could not bind its instance role in its instance namespace: %v", err)
	}

	for _, tc := range []struct {
		verb, group, resource, ns string
		want                      bool
	}{
		{"get", "", "secrets", "kube-system", false},
		{"list", "", "secrets", "kube-system", false},
		{"list", "", "secrets", "", false}, // cluster-wide
		{"get", "", "secrets", namespace, true},
		{"list", "", "secrets", namespace, false},
		{"update", "", "secrets", namespace, false},
		{"get", "", "secrets", instance, true},
		{"watch", "", "secrets", instance, true},
		{"delete", "", "secrets", instance, true},
		{"create", "apps", "deployments", instance, true},
		{"create", "apps", "deployments", "kube-system", false},
		{"list", "apps", "deployments", "", false},
		{"list", "", "configmaps", "", false},
		{"patch", "", "configmaps", "default", false},
		{"watch", "kinship.dev", "communities", "", true},
		{"delete", "kinship.dev", "communities", "", false},
		{"create", "events.k8s.io", "events", "default", true},
		{"create", "events.k8s.io", "events", "kube-system", false},
	} {
		where := tc.ns
		if where == "" {
			where = "every namespace"
		}
		if got := may(t, tc.verb, tc.group, tc.resource, tc.ns); got != tc.want {
			t.Errorf("%s %s in %s: allowed %v, want %v", tc.verb, tc.resource, where, got, tc.want)
		}
	}

	refused := func(what string, try func() error, want string) {
		t.Helper()
		// Admission policies take effect moments after they are created.
		deadline := time.Now().Add(15 * time.Second)
		for {
			err := try()
			if err != nil && strings.Contains(err.Error(), want) {
				return
			}
			if time.Now().After(deadline) {
				if err == nil {
					err = fmt.Errorf("allowed")
				}
				t.Errorf("%s: %v; want a refusal mentioning %q", what, err, want)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	refused("binding the instance role in kube-system", func() error {
		return operator.Create(ctx(t), binding("kube-system", "kinship-operator-instance"), client.DryRunAll)
	}, "may bind only its instance role, and only in the instance namespaces it manages")
	refused("binding the instance role in the operator's namespace", func() error {
		return operator.Create(ctx(t), binding(namespace, "kinship-operator-instance"), client.DryRunAll)
	}, "may bind only its instance role")
	refused("relabelling kube-system as an instance namespace", func() error {
		var ks corev1.Namespace
		if err := operator.Get(ctx(t), client.ObjectKey{Name: "kube-system"}, &ks); err != nil {
			return fmt.Errorf("get: %w", err)
		}
		if ks.Labels == nil {
			ks.Labels = map[string]string{}
		}
		ks.Labels["app.kubernetes.io/managed-by"] = "kinship-operator"
		return operator.Update(ctx(t), &ks, client.DryRunAll)
	}, "change only those it manages")
	refused("creating a namespace that is no instance namespace", func() error {
		return operator.Create(ctx(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "not-kinship"}}, client.DryRunAll)
	}, "may create namespaces named kinship-<name>")
	// Nor may it bind any other role in its own namespaces.
	if err := operator.Create(ctx(t), binding(instance, "admin"), client.DryRunAll); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("binding admin: %v; want a refusal", err)
	}
}
