package controller

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.temporal.io/server/common/rpc/encryption"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kinshiphq/kinship/internal/tlstest"
	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/external"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// putSecret creates or replaces a Secret in the secrets namespace.
func putSecret(t testing.TB, name string, data map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: secretsNamespace, Name: name}, Data: data}
	err := env.k8s.Create(ctx, s)
	if apierrors.IsAlreadyExists(err) {
		err = env.k8s.Update(ctx, s)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func deleteSecret(t testing.TB, name string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: secretsNamespace, Name: name}}
	if err := env.k8s.Delete(context.Background(), s); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// secured makes f's Community reach Kafka over TLS (Strimzi's cluster CA
// layout) with SCRAM-SHA-512, and Temporal over mutual TLS (cert-manager's
// layout), with Secrets in the secrets namespace.
func secured(t *testing.T, f *fixture, kafkaCA, temporalCA *tlstest.CA) tlstest.Pair {
	t.Helper()
	client := temporalCA.Client(t, "kinship-worker")
	putSecret(t, f.name+"-kafka-ca", map[string][]byte{"ca.crt": kafkaCA.PEM, "ca.p12": []byte("not copied"), "ca.password": []byte("not copied")})
	putSecret(t, f.name+"-kafka-user", map[string][]byte{"password": []byte("scram-secret\n"), "sasl.jaas.config": []byte("not copied")})
	putSecret(t, f.name+"-temporal-client", map[string][]byte{"ca.crt": temporalCA.PEM, "tls.crt": client.CertPEM, "tls.key": client.KeyPEM})
	f.community.Spec.Kafka.TLS = &kinshipv1alpha1.TLSSpec{
		Enabled:    true,
		SecretRef:  &kinshipv1alpha1.SecretReference{Name: f.name + "-kafka-ca"},
		ServerName: "kinship-kafka-bootstrap.kafka.svc",
	}
	f.community.Spec.Kafka.SASL = &kinshipv1alpha1.KafkaSASLSpec{
		Mechanism: kinshipv1alpha1.SASLSCRAMSHA512, Username: f.name,
		PasswordSecretRef: kinshipv1alpha1.SecretKeyReference{Name: f.name + "-kafka-user"},
	}
	f.community.Spec.Temporal.TLS = &kinshipv1alpha1.TLSSpec{
		Enabled:   true,
		SecretRef: &kinshipv1alpha1.SecretReference{Name: f.name + "-temporal-client"},
	}
	return client
}

func (f *fixture) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := f.object(t, name, &d); err != nil {
		t.Fatalf("deployment %s: %v", name, err)
	}
	return &d
}

func containerEnv(d *appsv1.Deployment) map[string]string {
	out := map[string]string{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		out[e.Name] = e.Value
	}
	return out
}

func TestKafkaAndTemporalSecurityReachTheOperatorAndThePods(t *testing.T) {
	kafkaCA, temporalCA := tlstest.NewCA(t, "Kafka CA"), tlstest.NewCA(t, "Temporal CA")
	f := newFixture(t, "secured")
	client := secured(t, f, kafkaCA, temporalCA)
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)

	// The operator's own clients use the settings and the Secrets.
	k := env.kafka.LastCall(f.brokers)
	if k.TLS == nil || !bytes.Equal(k.TLS.CA, kafkaCA.PEM) || k.TLS.ServerName != "kinship-kafka-bootstrap.kafka.svc" || len(k.TLS.Cert) != 0 {
		t.Errorf("the operator's Kafka TLS: %+v", k.TLS)
	}
	if k.SASL == nil || k.SASL.Mechanism != "SCRAM-SHA-512" || k.SASL.Username != "secured" || k.SASL.Password != "scram-secret" {
		t.Errorf("the operator's Kafka SASL (the password without its trailing newline): %+v", k.SASL)
	}
	tc := env.temporal.LastCall(f.temporal)
	if tc.TLS == nil || !bytes.Equal(tc.TLS.Cert, client.CertPEM) || !bytes.Equal(tc.TLS.Key, client.KeyPEM) || !bytes.Equal(tc.TLS.CA, temporalCA.PEM) {
		t.Errorf("the operator's Temporal TLS: %+v", tc.TLS)
	}
	if cond := f.condition(t, kinshipv1alpha1.ConditionTopicsReady); !strings.Contains(cond.Message, "SASL_SSL with SCRAM-SHA-512") {
		t.Errorf("TopicsReady should say how Kafka is reached: %q", cond.Message)
	}

	// The pods get copies of exactly the keys they read.
	for name, want := range map[string]map[string]string{
		"secured-kafka-tls":    {"ca.crt": string(kafkaCA.PEM)},
		"secured-kafka-sasl":   {"password": "scram-secret\n"},
		"secured-temporal-tls": {"ca.crt": string(temporalCA.PEM), "tls.crt": string(client.CertPEM), "tls.key": string(client.KeyPEM)},
	} {
		var s corev1.Secret
		if err := f.object(t, name, &s); err != nil {
			t.Fatalf("copy %s: %v", name, err)
		}
		got := map[string]string{}
		for k, v := range s.Data {
			got[k] = string(v)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || !metav1.IsControlledBy(&s, f.get(t)) {
			t.Errorf("copy %s holds keys %v (owners %v), want %v", name, keys(got), s.OwnerReferences, keys(want))
		}
	}
	members, worker := f.deployment(t, "members"), f.deployment(t, "worker")
	if e := containerEnv(members); e["KAFKA_TLS_CA_FILE"] != "/var/run/secrets/kinship/kafka-tls/ca.crt" || e["KAFKA_SASL_USERNAME"] != "secured" || e["TEMPORAL_TLS_CERT_FILE"] != "" {
		t.Errorf("members env: %v", e)
	}
	if e := containerEnv(worker); e["TEMPORAL_TLS_CERT_FILE"] != "/var/run/secrets/kinship/temporal-tls/tls.crt" || e["KAFKA_TLS"] != "true" {
		t.Errorf("worker env: %v", e)
	}

	// A renewed client certificate reaches the operator and rolls the
	// worker on the next reconcile.
	before := worker.Spec.Template.Annotations[resources.AnnotationSecretsHash]
	renewed := temporalCA.Client(t, "kinship-worker")
	putSecret(t, "secured-temporal-client", map[string][]byte{"ca.crt": temporalCA.PEM, "tls.crt": renewed.CertPEM, "tls.key": renewed.KeyPEM})
	f.nudge(t)
	eventually(t, 30*time.Second, func() error {
		var s corev1.Secret
		if err := f.object(t, "secured-temporal-tls", &s); err != nil {
			return err
		}
		if !bytes.Equal(s.Data["tls.crt"], renewed.CertPEM) {
			return fmt.Errorf("the copy still holds the old certificate")
		}
		if f.deployment(t, "worker").Spec.Template.Annotations[resources.AnnotationSecretsHash] == before {
			return fmt.Errorf("the worker's secrets hash did not change")
		}
		if tc := env.temporal.LastCall(f.temporal); tc.TLS == nil || !bytes.Equal(tc.TLS.Cert, renewed.CertPEM) {
			return fmt.Errorf("the operator still presents the old certificate")
		}
		return nil
	})
	f.waitReady(t)

	// A missing password Secret is reported, and the copy stays so that
	// running pods keep working.
	deleteSecret(t, "secured-kafka-user")
	f.nudge(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionDegraded, metav1.ConditionTrue, "KafkaSecretUnavailable")
	if cond := f.condition(t, kinshipv1alpha1.ConditionTopicsReady); cond.Status != metav1.ConditionFalse || !strings.Contains(cond.Message, "secret kinship-system/secured-kafka-user not found") {
		t.Errorf("TopicsReady: %+v", cond)
	}
	if cond := f.condition(t, kinshipv1alpha1.ConditionWorkloadsReady); cond.Status != metav1.ConditionFalse || cond.Reason != "KafkaSASLSecretUnavailable" {
		t.Errorf("WorkloadsReady: %+v", cond)
	}
	var kept corev1.Secret
	if err := f.object(t, "secured-kafka-sasl", &kept); err != nil || string(kept.Data["password"]) != "scram-secret\n" {
		t.Errorf("the password copy must stay while its source is missing: %v %v", err, kept.Data)
	}
	putSecret(t, "secured-kafka-user", map[string][]byte{"password": []byte("scram-secret\n")})
	f.nudge(t)
	f.waitReady(t)

	// Plaintext again: the copies go, and so do the settings.
	f.update(t, func(c *kinshipv1alpha1.Community) {
		c.Spec.Kafka.TLS, c.Spec.Kafka.SASL, c.Spec.Temporal.TLS = nil, nil, nil
	})
	f.waitReady(t)
	for _, name := range []string{"secured-kafka-tls", "secured-kafka-sasl", "secured-temporal-tls"} {
		eventually(t, 10*time.Second, func() error {
			var s corev1.Secret
			if err := f.object(t, name, &s); !apierrors.IsNotFound(err) {
				return fmt.Errorf("copy %s is still there (%v)", name, err)
			}
			return nil
		})
	}
	for k := range containerEnv(f.deployment(t, "worker")) {
		if strings.HasPrefix(k, "KAFKA_TLS") || strings.HasPrefix(k, "KAFKA_SASL") || strings.HasPrefix(k, "TEMPORAL_TLS") {
			t.Errorf("worker still has %s", k)
		}
	}
	if k := env.kafka.LastCall(f.brokers); k.TLS != nil || k.SASL != nil {
		t.Errorf("the operator still uses TLS or SASL: %+v", k)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestBadTLSMaterialIsReportedNotCopied(t *testing.T) {
	f := newFixture(t, "bad-tls")
	putSecret(t, "bad-tls-kafka-ca", map[string][]byte{"ca.crt": []byte("-----BEGIN CERTIFICATE-----\nnot really\n")})
	f.community.Spec.Kafka.TLS = &kinshipv1alpha1.TLSSpec{Enabled: true, SecretRef: &kinshipv1alpha1.SecretReference{Name: "bad-tls-kafka-ca"}}
	f.create(t)
	f.cleanup(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionDegraded, metav1.ConditionTrue, "KafkaSecretUnavailable")
	cond := f.condition(t, kinshipv1alpha1.ConditionTopicsReady)
	if !strings.Contains(cond.Message, "spec.kafka.tls.secretRef: secret kinship-system/bad-tls-kafka-ca: ca.crt holds no PEM certificate") {
		t.Errorf("TopicsReady: %q", cond.Message)
	}
	if c := env.kafka.Calls(f.brokers); c.Reads+c.Writes != 0 {
		t.Errorf("the operator called Kafka without usable TLS settings: %+v", c)
	}
	var s corev1.Secret
	if err := f.object(t, "bad-tls-kafka-tls", &s); !apierrors.IsNotFound(err) {
		t.Errorf("unusable material must not be copied for the pods: %v", err)
	}
	// The pods wait for the copy rather than start without it.
	d := f.deployment(t, "members")
	if _, ok := containerEnv(d)["KAFKA_TLS_CA_FILE"]; ok {
		t.Error("the pods are pointed at a CA file that does not exist")
	}

	putSecret(t, "bad-tls-kafka-ca", map[string][]byte{"ca.crt": tlstest.NewCA(t, "Kafka CA").PEM})
	f.nudge(t)
	f.waitReady(t)
	if containerEnv(f.deployment(t, "members"))["KAFKA_TLS_CA_FILE"] == "" {
		t.Error("with the copy in place the pods read the CA")
	}
}

func TestSASLPlainWithoutTLSIsWarnedAbout(t *testing.T) {
	f := newFixture(t, "plain-sasl")
	putSecret(t, "plain-sasl-kafka-user", map[string][]byte{"pw": []byte("plain-secret")})
	f.community.Spec.Kafka.SASL = &kinshipv1alpha1.KafkaSASLSpec{
		Mechanism: kinshipv1alpha1.SASLPlain, Username: "plain-sasl",
		PasswordSecretRef: kinshipv1alpha1.SecretKeyReference{Name: "plain-sasl-kafka-user", Key: "pw"},
	}
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	if cond := f.condition(t, kinshipv1alpha1.ConditionTopicsReady); !strings.Contains(cond.Message, "SASL_PLAINTEXT with PLAIN; "+insecureSASL) {
		t.Errorf("TopicsReady: %q", cond.Message)
	}
	eventually(t, 10*time.Second, func() error {
		if !contains(f.eventReasons(t), "InsecureKafkaSASL") {
			return fmt.Errorf("no InsecureKafkaSASL event in %v", f.eventReasons(t))
		}
		return nil
	})
	if k := env.kafka.LastCall(f.brokers); k.SASL == nil || k.SASL.Password != "plain-secret" || k.TLS != nil {
		t.Errorf("the operator's Kafka settings: %+v", k)
	}
}

// TestAgainstSecuredDependencies runs a Community against a broker that
// takes only mutual TLS with SCRAM-SHA-512 and a Temporal frontend that
// takes only mutual TLS, both on loopback (so the suite's routers hand them
// to the real clients), with the material in Secrets as Strimzi and
// cert-manager lay it out.
func TestAgainstSecuredDependencies(t *testing.T) {
	const brokerName, frontendName = "broker.kinship.test", "temporal.kinship.test"
	kafkaCA := tlstest.NewCA(t, "Kafka CA")
	kc, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.TLS(kafkaCA.MutualServerConfig(t, brokerName)),
		kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "kinship", "scram-secret"),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)

	temporalCA := tlstest.NewCA(t, "Temporal CA")
	srv := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseServerOptions(
		temporal.WithTLSConfigFactory(&encryption.FixedTLSConfigProvider{
			FrontendServerConfig: temporalCA.MutualServerConfig(t, frontendName),
			FrontendClientConfig: temporalCA.ClientConfig(t, "temporal-system-worker", frontendName),
		})))

	f := newFixture(t, "secure-real") // the database stays with the fake
	f.brokers, f.temporal = kc.ListenAddrs(), srv.GetFrontendHostPort()
	kafkaClient := kafkaCA.Client(t, "kinship")
	putSecret(t, "secure-real-kafka-tls", map[string][]byte{"ca.crt": kafkaCA.PEM, "tls.crt": kafkaClient.CertPEM, "tls.key": kafkaClient.KeyPEM})
	putSecret(t, "secure-real-kafka-user", map[string][]byte{"password": []byte("scram-secret")})
	temporalClient := temporalCA.Client(t, "kinship-operator")
	putSecret(t, "secure-real-temporal-tls", map[string][]byte{"ca.crt": temporalCA.PEM, "tls.crt": temporalClient.CertPEM, "tls.key": temporalClient.KeyPEM})
	f.community.Spec.Kafka = kinshipv1alpha1.KafkaSpec{
		BootstrapServers: f.brokers, Partitions: 2, ReplicationFactor: 1,
		TLS: &kinshipv1alpha1.TLSSpec{Enabled: true, ServerName: brokerName,
			SecretRef: &kinshipv1alpha1.SecretReference{Name: "secure-real-kafka-tls"}},
		SASL: &kinshipv1alpha1.KafkaSASLSpec{Mechanism: kinshipv1alpha1.SASLSCRAMSHA512, Username: "kinship",
			PasswordSecretRef: kinshipv1alpha1.SecretKeyReference{Name: "secure-real-kafka-user"}},
	}
	f.community.Spec.Temporal = kinshipv1alpha1.TemporalSpec{Address: f.temporal,
		TLS: &kinshipv1alpha1.TLSSpec{Enabled: true, ServerName: frontendName,
			SecretRef: &kinshipv1alpha1.SecretReference{Name: "secure-real-temporal-tls"}}}
	f.community.Spec.DeletionPolicy = kinshipv1alpha1.DeletionPolicyDelete
	f.create(t)
	f.waitReady(t)

	ctx := context.Background()
	cluster := external.KafkaCluster{
		Brokers: f.brokers,
		TLS:     &external.TLS{CA: kafkaCA.PEM, Cert: kafkaClient.CertPEM, Key: kafkaClient.KeyPEM, ServerName: brokerName},
		SASL:    &external.SASL{Mechanism: "SCRAM-SHA-512", Username: "kinship", Password: "scram-secret"},
	}
	kafka := external.NewKafkaAdmin(5 * time.Second)
	if topics, err := kafka.DescribeTopics(ctx, cluster, resources.TopicNames(f.get(t))); err != nil || len(topics) != 8 {
		t.Errorf("topics on the secured broker: %v %v", topics, err)
	}
	tp := external.NewTemporalAdmin(env.logger, 10*time.Second)
	defer tp.Close()
	tcluster := external.TemporalCluster{Address: f.temporal,
		TLS: &external.TLS{CA: temporalCA.PEM, Cert: temporalClient.CertPEM, Key: temporalClient.KeyPEM, ServerName: frontendName}}
	if ns, err := tp.DescribeNamespace(ctx, tcluster, "secure-real"); err != nil || !ns.Exists {
		t.Errorf("namespace on the secured frontend: %+v %v", ns, err)
	}

	// A wrong password shows in the status; the right one heals it.
	putSecret(t, "secure-real-kafka-user", map[string][]byte{"password": []byte("wrong")})
	f.nudge(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionTopicsReady, metav1.ConditionFalse, "KafkaUnreachable")
	if cond := f.condition(t, kinshipv1alpha1.ConditionTopicsReady); !strings.Contains(cond.Message, "SASL user name and password are right") || strings.Contains(cond.Message, "wrong") {
		t.Errorf("TopicsReady: %q", cond.Message)
	}
	putSecret(t, "secure-real-kafka-user", map[string][]byte{"password": []byte("scram-secret")})
	f.nudge(t)
	f.waitReady(t)

	f.delete(t)
	f.waitGone(t)
	if topics, err := kafka.DescribeTopics(ctx, cluster, resources.TopicNames(f.community)); err != nil || len(topics) != 0 {
		t.Errorf("topics after deletion: %v %v", topics, err)
	}
	eventually(t, 20*time.Second, func() error {
		if ns, err := tp.DescribeNamespace(ctx, tcluster, "secure-real"); err != nil || ns.Exists {
			return fmt.Errorf("namespace after deletion: %+v %v", ns, err)
		}
		return nil
	})
}
