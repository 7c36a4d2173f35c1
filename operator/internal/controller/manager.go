package controller

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
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

// CacheOptions restrict the manager's cache to the cluster-scoped objects
// the operator watches: every Community, and the namespaces it manages
// (labelled managed-by kinship-operator), so that it never holds the
// cluster's other namespaces. Nothing namespaced is cached here: each
// instance namespace has a cache of its own (InstanceCaches), and a read
// of a kind the cache does not hold fails instead of quietly listing it
// cluster-wide. syncPeriod is how often every cached object is handed to
// the controller again, which re-checks the external resources; zero
// keeps controller-runtime's default (about 10 hours).
func CacheOptions(syncPeriod time.Duration) cache.Options {
	managed := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{resources.LabelManagedBy: resources.ManagedBy})}
	opts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Namespace{}:          managed,
			&kinshipv1alpha1.Community{}: {},
		},
		ReaderFailOnMissingInformer: true,
	}
	if syncPeriod > 0 {
		opts.SyncPeriod = &syncPeriod
	}
	return opts
}
