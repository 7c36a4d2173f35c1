package controller

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/operator/internal/external"
	"github.com/kinshiphq/kinship/operator/internal/external/externaltest"
)

// The suite runs one API server and one manager for every test; tests
// keep apart by using Communities, broker addresses and database hosts of
// their own, which the fakes count separately.
type suite struct {
	k8s        client.Client // the tests' own client (a cluster admin), not counted
	kubeconfig string        // a cluster admin's, for kubectl
	scheme     *runtime.Scheme
	writes     *requestLog // requests the operator sent
	kafka      *externaltest.Kafka
	temporal   *externaltest.Temporal
	postgres   *externaltest.Postgres
	insights   *externaltest.Insights
	journeys   *externaltest.Journeys
	// journeysRoutes sends a Community's journey calls to a real journeys
	// API when a test routed it there, to journeys otherwise.
	journeysRoutes *journeysRouter
	goals          *goalsRouter
	pg             *dbtest.Cluster // real PostgreSQL
	// cfg is an admin's view of the API server: its address and the CA
	// that signs its certificate (and so the issuer of service-account
	// tokens).
	cfg    *rest.Config
	logger *slog.Logger
	// reconciler is the one the manager runs, as the operator's service
	// account; tests call its steps directly only for Communities that
	// the API server would not store.
	reconciler *CommunityReconciler
}

var env suite // set once by TestMain; read-only afterwards

const (
	secretsNamespace = "kinship-system"
	testRetryBase    = 250 * time.Millisecond
	testRetryMax     = 2 * time.Second
	// testGoalsResync is how often the goals of a Community that names
	// some are read again in the tests (5 minutes in a cluster).
	testGoalsResync = 2 * time.Second
)

// assetsDir finds envtest's kube-apiserver and etcd: KUBEBUILDER_ASSETS,
// else the cache hack/envtest-assets.sh fills.
func assetsDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".cache", "kinship", "envtest", "v1.37.2")
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if fi, err := os.Stat(filepath.Join(dir, bin)); err != nil || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("envtest binary %s not found in %s: run `make envtest-assets` (it builds kube-apiserver and etcd from the Go module proxy)", bin, dir)
		}
	}
	return dir, nil
}

func TestMain(m *testing.M) { os.Exit(runSuite(m)) }

func runSuite(m *testing.M) int {
	dir, err := assetsDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	log.SetLogger(ctrlLogger(logger))
	testEnv := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: dir,
	}
	// envtest's default service range (a /24) holds 254 Services; the
	// benchmark's 100 Communities need 500.
	testEnv.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	// The service-account issuer's discovery document names its keys at
	// the advertised address, by default the machine's own; name them on
	// the loopback port the API server serves, so that a real verifier
	// (the insights service in TestGoalsRoundTripWithTheRealInsightsService)
	// reaches them.
	kubeAPI := testEnv.ControlPlane.GetAPIServer()
	port, err := freePort()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	kubeAPI.SecureServing.Address, kubeAPI.SecureServing.Port = "127.0.0.1", port
	kubeAPI.Configure().Set("service-account-jwks-uri", "https://127.0.0.1:"+port+"/openid/v1/jwks")
	cfg, err := testEnv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: start envtest:", err)
		return 1
	}
	defer func() { _ = testEnv.Stop() }()
	cfg.QPS, cfg.Burst = -1, 0 // no client-side throttling in tests

	scheme, err := NewScheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: secretsNamespace}}); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	// The operator runs with exactly the permissions its RBAC markers
	// generate (config/rbac/role.yaml), bound as the chart binds them, so
	// every test also checks that they are enough.
	if err := applyOperatorRBAC(context.Background(), k8s); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: apply the operator's RBAC:", err)
		return 1
	}
	kubeconfig, err := adminKubeconfig(testEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.Remove(kubeconfig)

	env = suite{
		k8s: k8s, kubeconfig: kubeconfig, scheme: scheme, writes: &requestLog{}, logger: logger,
		kafka: externaltest.NewKafka(), temporal: externaltest.NewTemporal(), postgres: externaltest.NewPostgres(),
		insights: externaltest.NewInsights(), journeys: externaltest.NewJourneys(), cfg: rest.CopyConfig(cfg),
	}
	env.goals = &goalsRouter{fake: env.insights, real: map[string]realInsights{}}
	env.journeysRoutes = &journeysRouter{fake: env.journeys, real: map[string]realJourneys{}}
	mgrCfg := operatorConfig(cfg)
	mgrCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &countingTransport{next: rt, log: env.writes} })
	mgr, err := ctrl.NewManager(mgrCfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   CacheOptions(0),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: create manager:", err)
		return 1
	}
	instances, err := NewInstanceCaches(mgr, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	operatorClient, err := NewClient(mgr, instances)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	r := &CommunityReconciler{
		Client: operatorClient, APIReader: mgr.GetAPIReader(), Scheme: scheme, Instances: instances,
		OperatorNamespace: secretsNamespace, Operator: operatorSubject(), APIServer: apiServer(cfg),
		Recorder: mgr.GetEventRecorder("kinship-operator"),
		Kafka:    kafkaRouter{fake: env.kafka, real: external.NewKafkaAdmin(5 * time.Second)},
		Temporal: temporalRouter{fake: env.temporal, real: external.NewTemporalAdmin(logger, 10*time.Second)},
		Postgres: postgresRouter{fake: env.postgres, real: external.NewPostgresAdmin(10 * time.Second)},
		Goals:    env.goals, GoalsResync: testGoalsResync, Journeys: env.journeysRoutes,
		Logger: logger,
	}
	env.reconciler = r
	if err := r.SetupWithManager(mgr, Options{MaxConcurrentReconciles: 8, RetryBaseDelay: testRetryBase, RetryMaxDelay: testRetryMax}); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: set up controller:", err)
		return 1
	}
	// The stand-in for kube-controller-manager runs as a cluster admin, in
	// a manager of its own.
	kcm, err := ctrl.NewManager(rest.CopyConfig(cfg), ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: create manager:", err)
		return 1
	}
	if err := ctrl.NewControllerManagedBy(kcm).Named("fake-deployment-controller").For(&appsv1.Deployment{}).
		WithOptions(ctrlcontroller.Options{MaxConcurrentReconciles: 4}).
		Complete(&fakeDeploymentController{client: kcm.GetClient()}); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: set up deployment controller:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- mgr.Start(ctx) }()
	go func() { done <- kcm.Start(ctx) }()
	defer func() {
		cancel()
		<-done
		<-done
	}()
	return dbtest.Main(m, &env.pg)
}

// freePort returns a TCP port nothing listens on at the moment.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

// fakeDeploymentController stands in for kube-controller-manager, which
// envtest does not run: it reports every replica of a Deployment ready.
type fakeDeploymentController struct{ client client.Client }

func (f *fakeDeploymentController) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var d appsv1.Deployment
	if err := f.client.Get(ctx, req.NamespacedName, &d); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: want, UpdatedReplicas: want, ReadyReplicas: want, AvailableReplicas: want}
	if equality.Semantic.DeepEqual(d.Status, s) {
		return reconcile.Result{}, nil
	}
	d.Status = s
	err := f.client.Status().Update(ctx, &d)
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return reconcile.Result{RequeueAfter: 10 * time.Millisecond}, nil
	}
	return reconcile.Result{}, err
}

// requestLog records the writes the operator sends to the API server.
type requestLog struct {
	mu     sync.Mutex
	writes []string
}

type countingTransport struct {
	next http.RoundTripper
	log  *requestLog
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		c.log.mu.Lock()
		c.log.writes = append(c.log.writes, req.Method+" "+req.URL.Path)
		c.log.mu.Unlock()
	}
	return c.next.RoundTrip(req)
}

// snapshot returns every write so far.
func (l *requestLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.writes...)
}

// about returns the writes whose path concerns community name: the
// Community itself or anything in its namespace.
func (l *requestLog) about(name string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, w := range l.writes {
		if strings.Contains(w, "/communities/"+name) ||
			strings.Contains(w, "/namespaces/kinship-"+name+"/") || strings.HasSuffix(w, "/namespaces/kinship-"+name) {
			out = append(out, w)
		}
	}
	return out
}

// reconciles returns how many reconciles the community controller has run.
func reconciles(t testing.TB) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == Name {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// The routers send loopback addresses, where the tests run kfake, a
// Temporal server and PostgreSQL, to the real clients, and every other
// address to the fakes.

func isLoopback(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type kafkaRouter struct {
	fake *externaltest.Kafka
	real *external.KafkaAdmin
}

func (k kafkaRouter) pick(c external.KafkaCluster) external.Kafka {
	if len(c.Brokers) > 0 && isLoopback(c.Brokers[0]) {
		return k.real
	}
	return k.fake
}

func (k kafkaRouter) DescribeTopics(ctx context.Context, c external.KafkaCluster, n []string) (map[string]external.TopicState, error) {
	return k.pick(c).DescribeTopics(ctx, c, n)
}
func (k kafkaRouter) CreateTopics(ctx context.Context, c external.KafkaCluster, t []external.TopicSpec) error {
	return k.pick(c).CreateTopics(ctx, c, t)
}
func (k kafkaRouter) AddPartitions(ctx context.Context, c external.KafkaCluster, t string, n int) error {
	return k.pick(c).AddPartitions(ctx, c, t, n)
}
func (k kafkaRouter) SetRetention(ctx context.Context, c external.KafkaCluster, t string, ms int64) error {
	return k.pick(c).SetRetention(ctx, c, t, ms)
}
func (k kafkaRouter) DeleteTopics(ctx context.Context, c external.KafkaCluster, n []string) error {
	return k.pick(c).DeleteTopics(ctx, c, n)
}

type temporalRouter struct {
	fake *externaltest.Temporal
	real *external.TemporalAdmin
}

func (t temporalRouter) pick(c external.TemporalCluster) external.Temporal {
	if isLoopback(c.Address) {
		return t.real
	}
	return t.fake
}

func (t temporalRouter) DescribeNamespace(ctx context.Context, c external.TemporalCluster, n string) (external.NamespaceState, error) {
	return t.pick(c).DescribeNamespace(ctx, c, n)
}
func (t temporalRouter) RegisterNamespace(ctx context.Context, c external.TemporalCluster, n string, r time.Duration) error {
	return t.pick(c).RegisterNamespace(ctx, c, n, r)
}
func (t temporalRouter) SetRetention(ctx context.Context, c external.TemporalCluster, n string, r time.Duration) error {
	return t.pick(c).SetRetention(ctx, c, n, r)
}
func (t temporalRouter) DeleteNamespace(ctx context.Context, c external.TemporalCluster, n string) error {
	return t.pick(c).DeleteNamespace(ctx, c, n)
}

type postgresRouter struct {
	fake *externaltest.Postgres
	real *external.PostgresAdmin
}

func (p postgresRouter) pick(adminURL string) external.Postgres {
	if u, err := url.Parse(adminURL); err == nil && isLoopback(u.Host) {
		return p.real
	}
	return p.fake
}

func (p postgresRouter) Describe(ctx context.Context, u, d, r string) (external.DatabaseState, error) {
	return p.pick(u).Describe(ctx, u, d, r)
}
func (p postgresRouter) CreateRole(ctx context.Context, u, r, pw string) error {
	return p.pick(u).CreateRole(ctx, u, r, pw)
}
func (p postgresRouter) SetPassword(ctx context.Context, u, r, pw string) error {
	return p.pick(u).SetPassword(ctx, u, r, pw)
}
func (p postgresRouter) CreateDatabase(ctx context.Context, u, d, o string) error {
	return p.pick(u).CreateDatabase(ctx, u, d, o)
}
func (p postgresRouter) Drop(ctx context.Context, u, d, r string) error {
	return p.pick(u).Drop(ctx, u, d, r)
}

// goalsRouter sends the calls for a Community a test routed to a real
// insights service there (through the client it gave), and every other
// call to the fake.
type goalsRouter struct {
	fake *externaltest.Insights
	mu   sync.Mutex
	real map[string]realInsights // by community
}

type realInsights struct {
	url    string
	client external.Insights
}

// route sends community's goals to the insights service at url, through
// client, until the test ends.
func (g *goalsRouter) route(t testing.TB, community, url string, client external.Insights) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.real[community] = realInsights{url: url, client: client}
	t.Cleanup(func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		delete(g.real, community)
	})
}

func (g *goalsRouter) pick(target external.InsightsTarget) (external.Insights, external.InsightsTarget) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, ok := g.real[target.Community]; ok {
		target.URL = r.url
		return r.client, target
	}
	return g.fake, target
}

func (g *goalsRouter) SyncGoals(ctx context.Context, target external.InsightsTarget, goals []external.GoalSpec) ([]external.GoalProgress, error) {
	c, t := g.pick(target)
	return c.SyncGoals(ctx, t, goals)
}

func (g *goalsRouter) ListGoals(ctx context.Context, target external.InsightsTarget) ([]external.GoalProgress, error) {
	c, t := g.pick(target)
	return c.ListGoals(ctx, t)
}

func ctrlLogger(l *slog.Logger) logr.Logger { return logr.FromSlogHandler(l.Handler()) }
