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
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/external"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// Name is the controller's name in logs, metrics and events.
const Name = "community"

// CommunityReconciler reconciles Communities.
type CommunityReconciler struct {
	// Client reads through Instances (NewClient) and writes to the API
	// server.
	Client client.Client
	// APIReader reads the referenced Secrets (database admin, SMTP, Kafka
	// and Temporal TLS, Kafka SASL password, DKIM key), which no cache
	// holds.
	APIReader client.Reader
	// Instances holds a cache per instance namespace; SetupWithManager
	// adds the controller's watches on each.
	Instances *InstanceCaches
	// OperatorNamespace is the operator's own namespace: a Secret
	// reference without a namespace resolves there (the platform's
	// settings). The operator may read Secrets there and in the instance
	// namespaces it created, nowhere else.
	OperatorNamespace string
	// Operator is who the operator runs as (its service account): the
	// RoleBinding of each instance namespace binds InstanceRole to it.
	Operator rbacv1.Subject
	// InstanceRole is the ClusterRole holding what the operator may do in
	// an instance namespace; empty means InstanceRole's default name.
	InstanceRole string
	// APIServer is the API server's host:port as the operator reaches it;
	// the NetworkPolicy pins the in-cluster workload issuer to it.
	APIServer string
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	Kafka     external.Kafka
	Temporal  external.Temporal
	Postgres  external.Postgres
	// Goals reaches each instance's insights service, whose goals the
	// operator keeps as spec.goals says; nil leaves goals alone.
	Goals external.Insights
	// Journeys reaches each instance's worker, whose journey definitions
	// the operator keeps as spec.journeys says; nil leaves them alone.
	Journeys external.Journeys
	// GoalsResync is how often the goals of a Community that names some
	// are read again, and the journey definitions of one that names some
	// are checked again; zero means DefaultGoalsResync.
	GoalsResync time.Duration
	Logger      *slog.Logger
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

// Cluster-wide the operator watches Communities and the namespaces it
// creates, and may create RoleBindings — the first one in each new
// instance namespace, which binds only the instance role (bind is
// granted for that ClusterRole alone) — nothing else. Secrets it reads in
// its own namespace (the platform's settings; get only) and in the
// instance namespaces (through the instance role). Events about a
// Community, which is cluster-scoped, go to the default namespace.
//
// +kubebuilder:rbac:groups=kinship.dev,resources=communities,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=kinship.dev,resources=communities/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=kinship.dev,resources=communities/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=create
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames=kinship-operator-instance
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get,namespace=kinship-system
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch,namespace=default

// SetupWithManager registers the controller: it watches Communities (spec,
// label and annotation changes; status writes do not wake it), the
// namespaces it creates, and every kind it keeps in an instance namespace
// through that namespace's cache, so a deleted or edited object is
// restored.
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
	if r.Instances == nil {
		return errors.New("controller: the reconciler needs its instance caches")
	}
	if r.InstanceRole == "" {
		r.InstanceRole = InstanceRole
	}
	ctl, err := ctrl.NewControllerManagedBy(mgr).
		Named(Name).
		For(&kinshipv1alpha1.Community{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
			predicate.LabelChangedPredicate{},
		))).
		Owns(&corev1.Namespace{}).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
			RateLimiter: workqueue.NewTypedMaxOfRateLimiter(
				workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](opts.RetryBaseDelay, opts.RetryMaxDelay),
				&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
			),
		}).
		Build(r)
	if err != nil {
		return err
	}
	owner := handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &kinshipv1alpha1.Community{}, handler.OnlyControllerOwner())
	r.Instances.watch = func(c cache.Cache) error {
		for _, kind := range instanceKinds() {
			if err := ctl.Watch(source.Kind(c, kind, owner)); err != nil {
				return err
			}
		}
		return nil
	}
	return nil
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
			r.Instances.Forget(resources.Namespace(&kinshipv1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: req.Name}}))
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
	nsReady := r.reconcileNamespace(ctx, &c, st)
	sec := r.readSecurity(ctx, &c)
	db := r.reconcileDatabase(ctx, &c, nsReady, st)
	r.reconcileTopics(ctx, &c, sec, st)
	r.reconcileTemporal(ctx, &c, sec, st)
	deployments := r.reconcileWorkloads(ctx, &c, nsReady, db, sec, st)
	again := r.reconcileGoals(ctx, &c, deployments["insights"] != nil && deployments["insights"].Status.ReadyReplicas > 0, st)
	again = sooner(again, r.reconcileJourneys(ctx, &c, deployments["worker"] != nil && deployments["worker"].Status.ReadyReplicas > 0, st))

	if err := r.writeStatus(ctx, &c, st); err != nil {
		return ctrl.Result{}, err
	}
	if st.failed() {
		log.Info("community not provisioned yet; retrying with backoff", "reason", st.degradedReason())
		return ctrl.Result{}, fmt.Errorf("community %s: %s: %w", c.Name, st.degradedReason(), errRetry)
	}
	// Goals change with time, and organisers may publish other journey
	// definitions: a Community that names some is looked at again now
	// and then. Nothing else requeues on a timer.
	return ctrl.Result{RequeueAfter: again}, nil
}

// sooner is the sooner of two requeue delays, 0 meaning none.
func sooner(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
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
func (r *CommunityReconciler) readSecretKeys(ctx context.Context, c *kinshipv1alpha1.Community, ref secretRef, keys ...string) (map[string]string, error) {
	s, err := r.readSecret(ctx, c, ref)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, k := range keys {
		v, ok := s.Data[k]
		if !ok || len(v) == 0 {
			return nil, fmt.Errorf("%s: secret %s/%s has no key %q", ref.field, s.Namespace, s.Name, k)
		}
		out[k] = string(v)
	}
	return out, nil
}
