// Command manager runs the Kinship operator: it reconciles Community
// resources into isolated Kinship instances. It serves Prometheus metrics
// and health probes and, with -leader-elect, runs active/passive.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // checks spec.insights.timeZone as the insights service will, in an image with no zoneinfo

	"github.com/go-logr/logr"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kinshiphq/kinship/operator/internal/controller"
	"github.com/kinshiphq/kinship/operator/internal/external"
)

// Leader election keeps its lease, and records its events, in the
// operator's own namespace (kinship-system by default).
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete,namespace=kinship-system
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch,namespace=kinship-system

// config is everything the operator reads from its flags.
type config struct {
	metricsAddr             string
	probeAddr               string
	leaderElect             bool
	leaderElectionNamespace string
	maxConcurrent           int
	retryBase, retryMax     time.Duration
	externalTimeout         time.Duration
	syncPeriod              time.Duration
	goalsResync             time.Duration
	qps                     float64
	burst                   int
	logLevel, logFormat     string
	checkReady              string
	// namespace and serviceAccount are who the operator is: Secret
	// references without a namespace resolve in namespace, and each
	// instance namespace's RoleBinding binds instanceRole to the service
	// account.
	namespace, serviceAccount, instanceRole string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("kinship-operator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint (plain HTTP); 0 disables it")
	fs.StringVar(&c.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.BoolVar(&c.leaderElect, "leader-elect", false, "elect a leader, so that only one replica reconciles")
	fs.StringVar(&c.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election lease; empty means the operator's own")
	fs.IntVar(&c.maxConcurrent, "max-concurrent-reconciles", 4, "Communities reconciled at once")
	fs.DurationVar(&c.retryBase, "retry-base-delay", time.Second, "first retry delay after a failure; doubles each time")
	fs.DurationVar(&c.retryMax, "retry-max-delay", 5*time.Minute, "longest retry delay after failures")
	fs.DurationVar(&c.externalTimeout, "external-timeout", 10*time.Second, "bound on each call to Kafka, Temporal or PostgreSQL")
	fs.DurationVar(&c.syncPeriod, "sync-period", 10*time.Hour, "how often every Community is reconciled even when nothing changed, which re-checks topics, namespaces and databases")
	fs.DurationVar(&c.goalsResync, "goals-resync-period", controller.DefaultGoalsResync, "how often the goals of a Community that names some are read again from its insights service (their status changes with time), and the journey definitions of one that names some are checked again in its worker")
	fs.Float64Var(&c.qps, "kube-api-qps", 50, "requests per second to the Kubernetes API")
	fs.IntVar(&c.burst, "kube-api-burst", 100, "burst of requests to the Kubernetes API")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "json", "json or text")
	fs.StringVar(&c.namespace, "namespace", "kinship-system", "the operator's own namespace, where the platform's Secrets live: Secret references without a namespace resolve there")
	fs.StringVar(&c.serviceAccount, "service-account", "kinship-operator", "the operator's service account (in -namespace), which it binds -instance-role to in every instance namespace it creates")
	fs.StringVar(&c.instanceRole, "instance-role", controller.InstanceRole, "the ClusterRole holding what the operator may do in an instance namespace")
	fs.StringVar(&c.checkReady, "check-ready", "", "instead of running the operator, GET this URL (such as a running operator's /readyz) and exit 0 on 200, 1 otherwise; for `helm test` in an image with no shell")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	if c.maxConcurrent < 1 {
		errs = append(errs, errors.New("-max-concurrent-reconciles must be at least 1"))
	}
	if c.retryBase <= 0 || c.retryMax < c.retryBase {
		errs = append(errs, errors.New("-retry-base-delay must be positive and at most -retry-max-delay"))
	}
	if c.externalTimeout <= 0 {
		errs = append(errs, errors.New("-external-timeout must be positive"))
	}
	if c.goalsResync < 10*time.Second {
		errs = append(errs, errors.New("-goals-resync-period must be at least 10s"))
	}
	if c.logFormat != "json" && c.logFormat != "text" {
		errs = append(errs, fmt.Errorf("-log-format %q is neither json nor text", c.logFormat))
	}
	for _, f := range []struct{ name, value string }{{"-namespace", c.namespace}, {"-service-account", c.serviceAccount}, {"-instance-role", c.instanceRole}} {
		if !dnsName.MatchString(f.value) {
			errs = append(errs, fmt.Errorf("%s %q is not a Kubernetes name", f.name, f.value))
		}
	}
	return c, errors.Join(errs...)
}

// dnsName matches a namespace, service account or role name.
var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// apiServerAddress is the host:port of the API server the operator talks
// to (in a cluster, the kubernetes Service's address), or "".
func apiServerAddress(host string) string {
	u, err := url.Parse(host)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kinship-operator:", err)
		os.Exit(2)
	}
	if cfg.checkReady != "" {
		if err := checkReady(context.Background(), http.DefaultClient, cfg.checkReady, cfg.externalTimeout); err != nil {
			fmt.Fprintln(os.Stderr, "kinship-operator:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stdout, "ready:", cfg.checkReady)
		return
	}
	logger := newLogger(os.Stderr, cfg.logLevel, cfg.logFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("operator failed", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	logrLogger := logr.FromSlogHandler(logger.Handler())
	ctrl.SetLogger(logrLogger)
	klog.SetLogger(logrLogger)

	restCfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	restCfg.QPS, restCfg.Burst = float32(cfg.qps), cfg.burst
	scheme, err := controller.NewScheme()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: cfg.metricsAddr},
		HealthProbeBindAddress:        cfg.probeAddr,
		LeaderElection:                cfg.leaderElect,
		LeaderElectionID:              "kinship-operator.kinship.dev",
		LeaderElectionNamespace:       cfg.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		Cache:                         controller.CacheOptions(cfg.syncPeriod),
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}

	instances, err := controller.NewInstanceCaches(mgr, cfg.syncPeriod)
	if err != nil {
		return err
	}
	c, err := controller.NewClient(mgr, instances)
	if err != nil {
		return err
	}
	temporal := external.NewTemporalAdmin(logger.With("component", "temporal-client"), cfg.externalTimeout)
	defer temporal.Close()
	tokens := controller.NewWorkloadTokens(c, cfg.namespace, cfg.serviceAccount)
	r := &controller.CommunityReconciler{
		Client:            c,
		APIReader:         mgr.GetAPIReader(),
		Instances:         instances,
		OperatorNamespace: cfg.namespace,
		Operator:          rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: cfg.serviceAccount, Namespace: cfg.namespace},
		InstanceRole:      cfg.instanceRole,
		APIServer:         apiServerAddress(restCfg.Host),
		Scheme:            scheme,
		Recorder:          mgr.GetEventRecorder("kinship-operator"),
		Kafka:             external.NewKafkaAdmin(cfg.externalTimeout),
		Temporal:          temporal,
		Postgres:          external.NewPostgresAdmin(cfg.externalTimeout),
		// The operator syncs each instance's goals and journey
		// definitions as its own service account, with tokens it mints
		// for the instance's audience.
		Goals:       external.NewInsightsClient(tokens.Token, cfg.externalTimeout),
		Journeys:    external.NewJourneysClient(tokens.Token, cfg.externalTimeout),
		GoalsResync: cfg.goalsResync,
		Logger:      logger.With("controller", controller.Name),
	}
	if err := r.SetupWithManager(mgr, controller.Options{
		MaxConcurrentReconciles: cfg.maxConcurrent,
		RetryBaseDelay:          cfg.retryBase,
		RetryMaxDelay:           cfg.retryMax,
	}); err != nil {
		return fmt.Errorf("set up controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("add readiness check: %w", err)
	}
	logger.Info("starting operator", "leader_elect", cfg.leaderElect, "max_concurrent_reconciles", cfg.maxConcurrent)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	return nil
}
