// Package controller reconciles Communities: for each one it provisions an
// isolated Kinship instance (namespace, workloads, Kafka topics, Temporal
// namespace, database), keeps it as specified, reports its state, and
// cleans up on deletion. Each concern has a file of its own; this one ties
// them together.
package controller

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/time/rate"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/external"
)

// Name is the controller's name in logs, metrics and events.
const Name = "community"

// CommunityReconciler reconciles Communities.
type CommunityReconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads the referenced Secrets (database admin, SMTP, Kafka
	// and Temporal TLS, Kafka SASL password), which the cache does not
	// hold.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	Kafka     external.Kafka
	Temporal  external.Temporal
	Postgres  external.Postgres
	Logger    *slog.Logger
	// NewPassword generates database passwords; nil uses crypto/rand.
	NewPassword func() (string, error)

	statuses knownStatuses // the status each Community has on the API server
}

// Options tune how the controller runs.
type Options struct {
	// MaxConcurrentReconciles is how many Communities are reconciled at once.
	MaxConcurrentReconciles int
	// RetryBaseDelay and RetryMaxDelay bound the exponential backoff after a
	// failed reconcile (an unreachable Kafka, Temporal or database): the
	// first retry waits RetryBaseDelay, each next one twice as long, never
	// more than RetryMaxDelay.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
}

// +kubebuilder:rbac:groups=kinship.dev,resources=communities,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=kinship.dev,resources=communities/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=kinship.dev,resources=communities/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=serviceaccounts;configmaps;services;secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the controller: it watches Communities (spec,
// label and annotation changes; status writes do not wake it) and every
// object kind it manages, so a deleted or edited object is restored.
func (r *CommunityReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if opts.MaxConcurrentReconciles <= 0 {
		opts.MaxConcurrentReconciles = 4
	}
	if opts.RetryBaseDelay <= 0 {
		opts.RetryBaseDelay = time.Second
	}
	if opts.RetryMaxDelay < opts.RetryBaseDelay {
		opts.RetryMaxDelay = 5 * time.Minute
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(Name).
		For(&kinshipv1alpha1.Community{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
			predicate.LabelChangedPredicate{},
		))).
		Owns(&corev1.Namespace{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Secret{}).
		Owns(&corev1.Service{}).
		Owns(&appsv1.Deployment{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Owns(&networkingv1.Ingress{}).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
			RateLimiter: workqueue.NewTypedMaxOfRateLimiter(
				workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](opts.RetryBaseDelay, opts.RetryMaxDelay),
				&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
			),
		}).
		Complete(r)
}

// errRetry marks a reconcile that found something failing; the controller
// retries it with backoff.
var errRetry = errors.New("retry with backoff")

// Reconcile brings one Community's instance to its spec and reports what it
// found. Steps that fail do not stop the others: a Kafka outage still lets
// the workloads and the database be reconciled. Any failure is recorded in
// the status and retried with bounded exponential backoff.
func (r *CommunityReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := r.Logger.With("community", req.Name)
	var c kinshipv1alpha1.Community
	if err := r.Client.Get(ctx, req.NamespacedName, &c); err != nil {
		if apierrors.IsNotFound(err) {
			r.statuses.forget(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !c.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, log, &c)
	}
	if err := r.ensureFinalizer(ctx, &c); err != nil {
		return ctrl.Result{}, err
	}

	st := newStatusBuilder(&c)
	sec := r.readSecurity(ctx, &c)
	nsReady := r.reconcileNamespace(ctx, &c, st)
	db := r.reconcileDatabase(ctx, &c, nsReady, st)
	r.reconcileTopics(ctx, &c, sec, st)
	r.reconcileTemporal(ctx, &c, sec, st)
	r.reconcileWorkloads(ctx, &c, nsReady, db, sec, st)

	if err := r.writeStatus(ctx, &c, st); err != nil {
		return ctrl.Result{}, err
	}
	if st.failed() {
		log.Info("community not provisioned yet; retrying with backoff", "reason", st.degradedReason())
		return ctrl.Result{}, fmt.Errorf("community %s: %s: %w", c.Name, st.degradedReason(), errRetry)
	}
	return ctrl.Result{}, nil
}

// newPassword returns a fresh database password.
func (r *CommunityReconciler) newPassword() (string, error) {
	if r.NewPassword != nil {
		return r.NewPassword()
	}
	return randomSecret(24)
}

// randomSecret returns n random bytes from crypto/rand as unpadded
// base64url text (4n/3 characters), which survives being read from a file
// or a URL unchanged.
func randomSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// readSecretKeys reads keys of a referenced Secret straight from the API
// server.
func (r *CommunityReconciler) readSecretKeys(ctx context.Context, ref kinshipv1alpha1.SecretReference, keys ...string) (map[string]string, error) {
	s, err := r.readSecret(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, k := range keys {
		v, ok := s.Data[k]
		if !ok || len(v) == 0 {
			return nil, fmt.Errorf("secret %s/%s has no key %q", ref.Namespace, ref.Name, k)
		}
		out[k] = string(v)
	}
	return out, nil
}
