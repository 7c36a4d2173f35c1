package controller

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinshiphq/kinship/internal/devstack"
	"github.com/kinshiphq/kinship/internal/kafka/kafkatest"
	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/external"
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
