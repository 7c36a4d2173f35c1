package controller

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// NewScheme returns a scheme with the built-in types and this API.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("register built-in types: %w", err)
	}
	if err := kinshipv1alpha1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("register kinship.dev/v1alpha1: %w", err)
	}
	return s, nil
}

// CacheOptions restrict the manager's cache to the objects the operator
// manages (those labelled managed-by kinship-operator), so it never holds
// the cluster's other Secrets, Deployments or namespaces. Communities are
// cached in full. syncPeriod is how often every cached object is handed to
// the controller again, which re-checks the external resources; zero keeps
// controller-runtime's default (about 10 hours).
func CacheOptions(syncPeriod time.Duration) cache.Options {
	managed := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{resources.LabelManagedBy: resources.ManagedBy})}
	opts := cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Namespace{}:             managed,
		&corev1.ServiceAccount{}:        managed,
		&corev1.ConfigMap{}:             managed,
		&corev1.Secret{}:                managed,
		&corev1.Service{}:               managed,
		&appsv1.Deployment{}:            managed,
		&policyv1.PodDisruptionBudget{}: managed,
		&networkingv1.NetworkPolicy{}:   managed,
		&networkingv1.Ingress{}:         managed,
		&kinshipv1alpha1.Community{}:    {},
	}}
	if syncPeriod > 0 {
		opts.SyncPeriod = &syncPeriod
	}
	return opts
}
