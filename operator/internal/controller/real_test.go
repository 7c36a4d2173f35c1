package controller

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace/noop"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/devstack"
	"github.com/kinshiphq/kinship/internal/kafka/kafkatest"
	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/external"
	"github.com/kinshiphq/kinship/services/insights"
)

// TestAgainstRealDependencies runs a Community through its life against a
// Kafka-protocol broker (kfake), an embedded Temporal server and
// PostgreSQL from the system's packages, all on loopback.
func TestAgainstRealDependencies(t *testing.T) {
	if env.pg == nil {
		t.Fatal("PostgreSQL is not installed: apt-get install postgresql (this test never skips)")
	}
	brokers := kafkatest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	temporalAddr := ln.Addr().String()
	ln.Close()
	srv, err := devstack.StartTemporal(devstack.TemporalConfig{
		DataFile: filepath.Join(t.TempDir(), "temporal.db"), Address: temporalAddr,
		Namespaces: []string{"default"}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)

	f := &fixture{name: "real", brokers: brokers, temporal: temporalAddr, adminURL: env.pg.URL("postgres"), smtpURL: "smtp://127.0.0.1:2525"}
	f.writeSecrets(t)
	f.community = validCommunity("real")
	f.community.Spec.Kafka = kinshipv1alpha1.KafkaSpec{BootstrapServers: brokers, Partitions: 3, ReplicationFactor: 1}
	f.community.Spec.Temporal.Address = temporalAddr
	f.community.Spec.Database.AdminSecretRef.Name = "real-pg-admin"
	f.community.Spec.SMTP.SecretRef.Name = "real-smtp"
	f.community.Spec.DeletionPolicy = kinshipv1alpha1.DeletionPolicyDelete
	f.create(t)
	f.waitReady(t)

	ctx := context.Background()
	kafka := external.NewKafkaAdmin(5 * time.Second)
	topics, err := kafka.DescribeTopics(ctx, external.KafkaCluster{Brokers: brokers}, []string{"real.members.v1", "real.partners.v1.dlq"})
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range topics {
		if st != (external.TopicState{Partitions: 3, ReplicationFactor: 1, RetentionMs: 168 * 3600 * 1000}) {
			t.Errorf("topic %s: %+v", name, st)
		}
	}
	if len(topics) != 2 {
		t.Errorf("topics: %v", topics)
	}
	temporal := external.NewTemporalAdmin(slog.New(slog.DiscardHandler), 10*time.Second)
	defer temporal.Close()
	if ns, err := temporal.DescribeNamespace(ctx, external.TemporalCluster{Address: temporalAddr}, "real"); err != nil || !ns.Exists || ns.Retention != 168*time.Hour {
		t.Errorf("temporal namespace: %+v %v", ns, err)
	}
	var secret corev1.Secret
	if err := f.object(t, "real-database", &secret); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, string(secret.Data["url"]))
	if err != nil {
		t.Fatalf("the workloads' credentials do not connect: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE members (id text PRIMARY KEY)"); err != nil {
		t.Errorf("the community's role cannot create tables: %v", err)
	}
	conn.Close(ctx)

	// Retention changes reach Kafka and Temporal.
	f.update(t, func(c *kinshipv1alpha1.Community) {
		c.Spec.Kafka.Partitions = 5
		c.Spec.Temporal.NamespaceRetention = &metav1.Duration{Duration: 96 * time.Hour}
	})
	f.waitReady(t)
	eventually(t, 20*time.Second, func() error {
		topics, err := kafka.DescribeTopics(ctx, external.KafkaCluster{Brokers: brokers}, []string{"real.events.v1"})
		if err != nil {
			return err
		}
		if topics["real.events.v1"].Partitions != 5 {
			return fmt.Errorf("partitions %+v", topics)
		}
		ns, err := temporal.DescribeNamespace(ctx, external.TemporalCluster{Address: temporalAddr}, "real")
		if err != nil || ns.Retention != 96*time.Hour {
			return fmt.Errorf("temporal %+v %v", ns, err)
		}
		return nil
	})

	f.delete(t)
	f.waitGone(t)
	if topics, err := kafka.DescribeTopics(ctx, external.KafkaCluster{Brokers: brokers}, []string{"real.members.v1"}); err != nil || len(topics) != 0 {
		t.Errorf("topics after deletion: %v %v", topics, err)
	}
	eventually(t, 20*time.Second, func() error {
		ns, err := temporal.DescribeNamespace(ctx, external.TemporalCluster{Address: temporalAddr}, "real")
		if err != nil || ns.Exists {
			return fmt.Errorf("temporal namespace after deletion: %+v %v", ns, err)
		}
		return nil
	})
	pgAdmin := external.NewPostgresAdmin(10 * time.Second)
	if st, err := pgAdmin.Describe(ctx, env.pg.URL("postgres"), "kinship_real", "kinship_real"); err != nil || st.DatabaseExists || st.RoleExists {
		t.Errorf("database after deletion: %+v %v", st, err)
	}
}

// TestGoalsRoundTripWithTheRealInsightsService runs a Community's goals
// through the real insights service, in process on loopback, as in a
// cluster: the operator mints a token of its own service account for the
// instance's workload audience with the TokenRequest API (and its RBAC,
// which the suite applies, allows exactly that), the service checks it
// against the API server's service-account issuer (discovery and keys)
// and trusts the operator's subject, SyncGoals keeps the goals, and the
// Community's status says where each stands; a goal the service refuses
// leaves GoalsSynced False, naming the field.
func TestGoalsRoundTripWithTheRealInsightsService(t *testing.T) {
	ctx := context.Background()
	const name = "realgoals"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := insights.Config{
		HTTPAddr: ln.Addr().String(), DatabaseURL: filepath.Join(t.TempDir(), "insights.db"),
		KafkaBrokers: kafkatest.Start(t), Communities: []string{name},
		Auth: trustOperatorTokens(t),
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- insights.Run(runCtx, cfg, insights.Deps{Logger: slog.New(slog.DiscardHandler), Tracer: noop.NewTracerProvider(), Listener: ln})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("the insights service ended with %v", err)
		}
	})
	base := "http://" + ln.Addr().String()
	eventually(t, 30*time.Second, func() error {
		res, err := http.Get(base + "/readyz")
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", res.Status)
		}
		return nil
	})
	// The operator's own client, with tokens it mints as its service
	// account through its own (impersonated) connection.
	goals := external.NewInsightsClient(NewWorkloadTokens(env.reconciler.Client, secretsNamespace, operatorServiceAccount).Token, 10*time.Second)
	env.goals.route(t, name, base, goals)

	f := newFixture(t, name)
	f.community.Spec.Goals = []kinshipv1alpha1.Goal{
		{Name: "members", Metric: "members.total", Target: "100", Deadline: "2030-12-31", Description: "A hundred members."},
		{Name: "newcomers", Metric: "members.newcomers", Target: "40"},
	}
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionTrue, "Synced")

	c := f.get(t)
	if len(c.Status.Goals) != 2 || c.Status.Goals[0].Name != "members" || c.Status.Goals[1].Name != "newcomers" || c.Status.GoalsOnTrack == nil {
		t.Fatalf("status goals %+v, on track %v", c.Status.Goals, c.Status.GoalsOnTrack)
	}
	for _, g := range c.Status.Goals {
		if g.Status == kinshipv1alpha1.GoalUnknown || g.Message == "" || g.AsOf == "" || g.Current == "" || g.LastTransitionTime.Time.IsZero() {
			t.Errorf("goal %s: %+v", g.Name, g)
		}
	}
	if c.Status.Goals[0].Target != "100" || c.Status.Goals[1].Target != "40" {
		t.Errorf("targets: %s, %s", c.Status.Goals[0].Target, c.Status.Goals[1].Target)
	}
	target := external.InsightsTarget{URL: base, Community: name, Audience: "kinship-workload"}
	held, err := goals.ListGoals(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 2 || !held[0].FromResource || !held[1].FromResource {
		t.Errorf("the insights service holds %+v, want both goals as the resource's", held)
	}

	// A token for another audience is no workload token there.
	other := external.NewInsightsClient(NewWorkloadTokens(env.reconciler.Client, secretsNamespace, operatorServiceAccount).Token, 10*time.Second)
	if _, err := other.ListGoals(ctx, external.InsightsTarget{URL: base, Community: name, Audience: "another-audience"}); err == nil {
		t.Error("the insights service accepted a token minted for another audience")
	}

	// A metric the catalogue lacks: refused, naming the goal's field.
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Goals[1].Metric = "members.newcomerz" })
	f.waitCondition(t, kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionFalse, "GoalsRefused")
	if msg := f.condition(t, kinshipv1alpha1.ConditionGoalsSynced).Message; !strings.Contains(msg, "goals[1].metric") {
		t.Errorf("GoalsSynced says %q; want the field named", msg)
	}
	// Dropped from the spec, it is gone; the other stays.
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Goals = c.Spec.Goals[:1] })
	f.waitCondition(t, kinshipv1alpha1.ConditionGoalsSynced, metav1.ConditionTrue, "Synced")
	if held, err = goals.ListGoals(ctx, target); err != nil || len(held) != 1 || held[0].Name != "members" {
		t.Errorf("after dropping a goal the insights service lists %+v (%v)", held, err)
	}
}

// trustOperatorTokens is the token settings of a component the operator
// calls, as the operator writes them in a cluster: workload tokens from
// the API server's service-account issuer (its discovery document and
// keys, which verifiers outside the API server read anonymously, as a
// cluster lets them), for the instance's workload audience, with the
// operator's service account among the workload subjects.
func trustOperatorTokens(t *testing.T) auth.TokenConfig {
	t.Helper()
	ctx := context.Background()
	discovery := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kinship-test-issuer-discovery-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:service-account-issuer-discovery"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:unauthenticated"}}}
	if err := env.k8s.Create(ctx, discovery); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.k8s.Delete(ctx, discovery) })
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, env.cfg.CAData, 0o600); err != nil {
		t.Fatal(err)
	}
	return auth.TokenConfig{Issuer: "https://people.example.invalid", Audience: "kinship",
		WorkloadSubjects: []string{operatorUser()}, WorkloadIssuer: strings.TrimSuffix(env.cfg.Host, "/") + "/",
		WorkloadAudience: "kinship-workload", WorkloadCAFile: caFile}
}
