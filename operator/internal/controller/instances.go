package controller

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// instanceSyncTimeout bounds how long a reconcile waits for a new instance
// namespace's cache to fill (the RoleBinding that allows it takes effect
// within moments).
const instanceSyncTimeout = 30 * time.Second

// InstanceCaches reads and watches what the operator keeps in each
// instance namespace through a cache of that namespace alone, so that the
// operator needs no cluster-wide read access to Secrets, Deployments or
// any other namespaced kind: it may read them only where its instance
// role is bound. A namespace's cache starts once the operator has bound
// the role there (InstanceCaches.Watch) and stops when its Community is
// gone (Forget). As a client.Reader it routes each read: cluster-scoped
// objects (Communities, namespaces) to the manager's cache, objects of a
// watched namespace to that namespace's cache, anything else to the API
// server.
type InstanceCaches struct {
	cfg        *rest.Config
	httpClient *http.Client
	scheme     *runtime.Scheme
	mapper     meta.RESTMapper
	syncPeriod *time.Duration
	cluster    client.Reader // the manager's cache
	live       client.Reader // the API server
	// watch adds the controller's watches on a namespace's new cache.
	watch func(cache.Cache) error

	started chan struct{} // closed once Start has set ctx
	ctx     context.Context

	mu          sync.Mutex
	byNamespace map[string]*namespaceCache
}

type namespaceCache struct {
	cache  cache.Cache
	cancel context.CancelFunc
}

var (
	_ client.Reader                  = (*InstanceCaches)(nil)
	_ manager.Runnable               = (*InstanceCaches)(nil)
	_ manager.LeaderElectionRunnable = (*InstanceCaches)(nil)
)

// NewInstanceCaches returns the instance caches of mgr and adds them to
// it. syncPeriod is as in CacheOptions.
func NewInstanceCaches(mgr manager.Manager, syncPeriod time.Duration) (*InstanceCaches, error) {
	ic := &InstanceCaches{
		cfg:         mgr.GetConfig(),
		httpClient:  mgr.GetHTTPClient(),
		scheme:      mgr.GetScheme(),
		mapper:      mgr.GetRESTMapper(),
		cluster:     mgr.GetCache(),
		live:        mgr.GetAPIReader(),
		started:     make(chan struct{}),
		byNamespace: map[string]*namespaceCache{},
	}
	if syncPeriod > 0 {
		ic.syncPeriod = &syncPeriod
	}
	if err := mgr.Add(ic); err != nil {
		return nil, fmt.Errorf("add instance caches: %w", err)
	}
	return ic, nil
}

// NewClient returns the reconciler's client: it writes to the API server
// and reads through ic.
func NewClient(mgr manager.Manager, ic *InstanceCaches) (client.Client, error) {
	c, err := client.New(mgr.GetConfig(), client.Options{
		HTTPClient: mgr.GetHTTPClient(),
		Scheme:     mgr.GetScheme(),
		Mapper:     mgr.GetRESTMapper(),
		Cache:      &client.CacheOptions{Reader: ic},
	})
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	return c, nil
}

// Start keeps the caches' parent context until the manager stops, which
// stops every namespace's cache.
func (ic *InstanceCaches) Start(ctx context.Context) error {
	ic.ctx = ctx
	close(ic.started)
	<-ctx.Done()
	return nil
}

// NeedLeaderElection is false: the context must be there before the
// controller, which runs on the leader, starts a namespace's cache.
func (ic *InstanceCaches) NeedLeaderElection() bool { return false }

// Watching reports whether namespace ns has a synced cache.
func (ic *InstanceCaches) Watching(ns string) bool { return ic.lookup(ns) != nil }

func (ic *InstanceCaches) lookup(ns string) cache.Cache {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if nc := ic.byNamespace[ns]; nc != nil {
		return nc.cache
	}
	return nil
}

// Watch starts the cache of namespace ns, which holds the kinds of
// instanceKinds labelled managed-by kinship-operator, waits until it has
// filled, and adds the controller's watches on it. The operator's
// instance role must be bound in ns.
func (ic *InstanceCaches) Watch(ctx context.Context, ns string) error {
	if ic.Watching(ns) {
		return nil
	}
	select {
	case <-ic.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	c, err := cache.New(ic.cfg, cache.Options{
		HTTPClient:                  ic.httpClient,
		Scheme:                      ic.scheme,
		Mapper:                      ic.mapper,
		DefaultNamespaces:           map[string]cache.Config{ns: {}},
		DefaultLabelSelector:        labels.SelectorFromSet(labels.Set{resources.LabelManagedBy: resources.ManagedBy}),
		SyncPeriod:                  ic.syncPeriod,
		ReaderFailOnMissingInformer: true,
	})
	if err != nil {
		return fmt.Errorf("cache of namespace %s: %w", ns, err)
	}
	for _, kind := range instanceKinds() {
		if _, err := c.GetInformer(ctx, kind); err != nil {
			return fmt.Errorf("cache of namespace %s: %w", ns, err)
		}
	}
	cctx, cancel := context.WithCancel(ic.ctx)
	go func() { _ = c.Start(cctx) }()
	syncCtx, done := context.WithTimeout(ctx, instanceSyncTimeout)
	defer done()
	if !c.WaitForCacheSync(syncCtx) {
		cancel()
		return fmt.Errorf("cache of namespace %s did not fill within %s: is the operator's role bound there?", ns, instanceSyncTimeout)
	}
	if ic.watch != nil {
		if err := ic.watch(c); err != nil {
			cancel()
			return fmt.Errorf("watch namespace %s: %w", ns, err)
		}
	}
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if prev := ic.byNamespace[ns]; prev != nil { // cannot happen: one reconcile per Community at a time
		prev.cancel()
	}
	ic.byNamespace[ns] = &namespaceCache{cache: c, cancel: cancel}
	return nil
}

// Forget stops the cache of namespace ns, once its Community is gone. The
// controller keeps the (now silent) watches on it; they are a few bytes
// per deleted Community until the operator restarts.
func (ic *InstanceCaches) Forget(ns string) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if nc := ic.byNamespace[ns]; nc != nil {
		nc.cancel()
		delete(ic.byNamespace, ns)
	}
}

// reader is where an object of namespace ns is read.
func (ic *InstanceCaches) reader(ns string) client.Reader {
	if ns == "" {
		return ic.cluster
	}
	if c := ic.lookup(ns); c != nil {
		return c
	}
	return ic.live
}

// Get implements client.Reader.
func (ic *InstanceCaches) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return ic.reader(key.Namespace).Get(ctx, key, obj, opts...)
}

// List implements client.Reader.
func (ic *InstanceCaches) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	lo := &client.ListOptions{}
	lo.ApplyOptions(opts)
	return ic.reader(lo.Namespace).List(ctx, list, opts...)
}
