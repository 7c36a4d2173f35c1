package chart

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ensureNamespace creates the release namespace with Pod Security
// "restricted" enforced (Pods are refused) and warned about (workloads
// whose pod templates break it draw warnings).
func ensureNamespace(t testing.TB) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
	}}}
	if err := cluster.k8s.Create(ctx(t), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// dryRunApply sends obj as a server-side apply with dryRun=All: the API
// server validates it (schema, unknown fields, CRD rules, admission) and
// stores nothing.
func dryRunApply(t testing.TB, obj *unstructured.Unstructured) error {
	t.Helper()
	return cluster.k8s.Apply(ctx(t), client.ApplyConfigurationFromUnstructured(obj.DeepCopy()),
		client.DryRunAll, client.FieldOwner("chart-test"), client.ForceOwnership)
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
