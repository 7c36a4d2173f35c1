package controller

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/external"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// cleanup deletes the Community when the test ends, with every dependency
// reachable again, and waits until it is gone.
func (f *fixture) cleanup(t *testing.T) {
	t.Cleanup(func() {
		env.kafka.SetUnreachable(f.brokers, false)
		env.temporal.SetUnreachable(f.temporal, false)
		env.postgres.SetUnreachable(f.pgHost, false)
		f.delete(t)
		f.waitGone(t)
	})
}

func TestCommunityBecomesReady(t *testing.T) {
	f := newFixture(t, "ready")
	f.community.Spec.Ingress = &kinshipv1alpha1.IngressSpec{Host: "ready.example.org", TLSSecretName: "ready-tls"}
	f.community.Spec.Goals = []kinshipv1alpha1.Goal{{Name: "members", Metric: "members.active", Target: "100"}}
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)

	c := f.get(t)
	if c.Status.Phase != kinshipv1alpha1.PhaseReady || c.Status.Endpoint != "https://ready.example.org" || c.Status.Namespace != "kinship-ready" {
		t.Errorf("status: phase %s endpoint %s namespace %s", c.Status.Phase, c.Status.Endpoint, c.Status.Namespace)
	}
	for _, condType := range []string{"TopicsReady", "TemporalNamespaceReady", "DatabaseReady", "WorkloadsReady"} {
		if cond := f.condition(t, condType); cond == nil || cond.Status != metav1.ConditionTrue {
			t.Errorf("%s: %+v", condType, cond)
		}
	}
	if cond := f.condition(t, "Degraded"); cond == nil || cond.Status != metav1.ConditionFalse {
		t.Errorf("Degraded: %+v", cond)
	}
	if len(c.Status.Components) != 7 {
		t.Errorf("components: %+v", c.Status.Components)
	}
	for _, cs := range c.Status.Components {
		want := int32(2)
		if cs.Name == "console" {
			want = 1 // sessions live in a replica's memory
		}
		if cs.Replicas != want || cs.ReadyReplicas != want {
			t.Errorf("component %+v: want %d/%d ready (the CRD's default)", cs, want, want)
		}
	}

	var ns corev1.Namespace
	if err := env.k8s.Get(context.Background(), client.ObjectKey{Name: f.ns()}, &ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" || !metav1.IsControlledBy(&ns, c) {
		t.Errorf("namespace must enforce Pod Security restricted and be owned by the Community: %v %v", ns.Labels, ns.OwnerReferences)
	}
	for _, comp := range resources.Components() {
		var d appsv1.Deployment
		if err := f.object(t, comp.Name, &d); err != nil {
			t.Fatalf("deployment %s: %v", comp.Name, err)
		}
		if !metav1.IsControlledBy(&d, c) || d.Spec.Template.Spec.Containers[0].Image != "ghcr.io/kinshiphq/kinship:v0.1.0" {
			t.Errorf("deployment %s: owner %v image %s", comp.Name, d.OwnerReferences, d.Spec.Template.Spec.Containers[0].Image)
		}
		var pdb policyv1.PodDisruptionBudget
		if err := f.object(t, comp.Name, &pdb); err != nil {
			t.Errorf("pdb %s: %v", comp.Name, err)
		}
		var svc corev1.Service
		if err := f.object(t, comp.Name, &svc); comp.Service != (err == nil) {
			t.Errorf("service %s: wanted %v, get error %v", comp.Name, comp.Service, err)
		}
	}
	var sa corev1.ServiceAccount
	var cm corev1.ConfigMap
	var np networkingv1.NetworkPolicy
	var ing networkingv1.Ingress
	var smtp, keys corev1.Secret
	for name, err := range map[string]error{
		"service account": f.object(t, "kinship", &sa), "config map": f.object(t, "kinship", &cm),
		"network policy": f.object(t, "kinship", &np), "ingress": f.object(t, "kinship", &ing),
		"smtp secret": f.object(t, "ready-smtp", &smtp), "communications secret": f.object(t, "ready-communications", &keys),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if string(smtp.Data["url"]) != f.smtpURL {
		t.Errorf("the SMTP settings must be copied into the instance namespace, got %q", smtp.Data["url"])
	}
	if len(keys.Data["unsubscribe-key"]) < 32 || len(keys.Data["bounce-token"]) < 32 || !metav1.IsControlledBy(&keys, c) {
		t.Errorf("the communications secret must hold a generated unsubscribe key and bounce token: %d and %d bytes",
			len(keys.Data["unsubscribe-key"]), len(keys.Data["bounce-token"]))
	}
	routes := map[string]string{}
	for _, p := range ing.Spec.Rules[0].HTTP.Paths {
		routes[p.Path] = p.Backend.Service.Name
	}
	if routes["/kinship.journeys.v1.JourneysService"] != "worker" || routes["/unsubscribe"] != "communications" {
		t.Errorf("the Ingress must route the journeys API to the worker and unsubscribe links to communications: %v", routes)
	}
	var worker appsv1.Deployment
	if err := f.object(t, "worker", &worker); err != nil {
		t.Fatal(err)
	}
	workerEnv := map[string]string{}
	for _, e := range worker.Spec.Template.Spec.Containers[0].Env {
		workerEnv[e.Name] = e.Value
	}
	if workerEnv["AUTH_ISSUER"] != "https://id.example.org" || workerEnv["KINSHIP_EVENTS_URL"] != "http://events.kinship-ready.svc:8085" ||
		workerEnv["KINSHIP_PARTNERS_URL"] != "http://partners.kinship-ready.svc:8086" {
		t.Errorf("the worker serves the journeys API and calls events and partners: %v", workerEnv)
	}

	// External resources.
	topics := env.kafka.Topics(f.brokers)
	if len(topics) != 8 {
		t.Errorf("topics: %v", topics)
	}
	for _, name := range resources.TopicNames(c) {
		if topics[name] != (external.TopicState{Partitions: 4, ReplicationFactor: 3, RetentionMs: 7 * 24 * 3600 * 1000}) {
			t.Errorf("topic %s: %+v", name, topics[name])
		}
	}
	if got := env.temporal.Namespaces(f.temporal); got["ready"] != 7*24*time.Hour {
		t.Errorf("temporal namespaces: %v", got)
	}
	if got := env.postgres.Databases(f.pgHost); got["kinship_ready"] != "kinship_ready" {
		t.Errorf("databases: %v", got)
	}
	var dbSecret corev1.Secret
	if err := f.object(t, "ready-database", &dbSecret); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(string(dbSecret.Data["url"]))
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	if u.User.Username() != "kinship_ready" || u.Host != f.pgHost || u.Path != "/kinship_ready" || u.Query().Get("sslmode") != "require" ||
		password == "" || env.postgres.Roles(f.pgHost)["kinship_ready"] != password {
		t.Errorf("database secret url %s does not match the role", u.Redacted())
	}

	eventually(t, 10*time.Second, func() error {
		reasons := f.eventReasons(t)
		for _, want := range []string{"TopicsCreated", "NamespaceRegistered", "RoleCreated", "DatabaseCreated", "KeysGenerated", "Ready", "AllReplicasReady"} {
			if !contains(reasons, want) {
				return fmt.Errorf("no %s event among %v", want, reasons)
			}
		}
		return nil
	})
}

func TestSpecChangesPropagate(t *testing.T) {
	f := newFixture(t, "changes")
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	var before appsv1.Deployment
	if err := f.object(t, "members", &before); err != nil {
		t.Fatal(err)
	}

	f.update(t, func(c *kinshipv1alpha1.Community) {
		c.Spec.Components.Members.Replicas = ptr.To[int32](4)
		c.Spec.Image.Tag = "v0.2.0"
		c.Spec.Kafka.Partitions = 6
		c.Spec.Kafka.Retention = &metav1.Duration{Duration: 48 * time.Hour}
		c.Spec.Kafka.BootstrapServers = append(c.Spec.Kafka.BootstrapServers, "kafka-extra.data:9092")
		c.Spec.Temporal.NamespaceRetention = &metav1.Duration{Duration: 72 * time.Hour}
		c.Spec.Ingress = &kinshipv1alpha1.IngressSpec{Host: "changes.example.org"}
	})
	f.brokers = append(f.brokers, "kafka-extra.data:9092")
	f.waitReady(t)

	var d appsv1.Deployment
	if err := f.object(t, "members", &d); err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 4 || d.Spec.Template.Spec.Containers[0].Image != "ghcr.io/kinshiphq/kinship:v0.2.0" {
		t.Errorf("deployment not updated: replicas %d image %s", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
	}
	if d.Spec.Template.Annotations[resources.AnnotationConfigHash] == before.Spec.Template.Annotations[resources.AnnotationConfigHash] {
		t.Error("new brokers must roll the pods")
	}
	var cm corev1.ConfigMap
	if err := f.object(t, "kinship", &cm); err != nil || cm.Data["KAFKA_BROKERS"] != "kafka-changes.data:9092,kafka-extra.data:9092" {
		t.Errorf("config map: %v %v", cm.Data, err)
	}
	var ing networkingv1.Ingress
	if err := f.object(t, "kinship", &ing); err != nil || ing.Spec.Rules[0].Host != "changes.example.org" {
		t.Errorf("ingress: %v", err)
	}
	// The fake keys clusters by their broker list: the new list is a new cluster.
	for name, st := range env.kafka.Topics(f.brokers) {
		if st.Partitions != 6 || st.RetentionMs != 48*3600*1000 {
			t.Errorf("topic %s: %+v", name, st)
		}
	}
	if got := env.temporal.Namespaces(f.temporal)["changes"]; got != 72*time.Hour {
		t.Errorf("temporal retention %s", got)
	}
	if c := f.get(t); c.Status.Components[0].Replicas != 4 || c.Status.Components[0].ReadyReplicas != 4 {
		t.Errorf("status components: %+v", c.Status.Components)
	}

	// Growing partitions on the same cluster goes through AddPartitions.
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Kafka.Partitions = 8 })
	f.waitReady(t)
	for name, st := range env.kafka.Topics(f.brokers) {
		if st.Partitions != 8 {
			t.Errorf("topic %s has %d partitions, want 8", name, st.Partitions)
		}
	}

	// Removing the ingress removes the Ingress.
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Ingress = nil })
	f.waitReady(t)
	eventually(t, 10*time.Second, func() error {
		if err := f.object(t, "kinship", &networkingv1.Ingress{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("ingress still there: %v", err)
		}
		return nil
	})
}

func TestSuspendScalesToZero(t *testing.T) {
	f := newFixture(t, "suspend")
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Suspend = true })
	f.waitCondition(t, kinshipv1alpha1.ConditionReady, metav1.ConditionFalse, "Suspended")
	if p := f.get(t).Status.Phase; p != kinshipv1alpha1.PhaseSuspended {
		t.Errorf("phase %s", p)
	}
	for _, comp := range resources.Components() {
		var d appsv1.Deployment
		if err := f.object(t, comp.Name, &d); err != nil || *d.Spec.Replicas != 0 {
			t.Errorf("%s not scaled to zero: %v", comp.Name, err)
		}
	}
	if _, ok := env.temporal.Namespaces(f.temporal)["suspend"]; !ok {
		t.Error("suspending must keep the Temporal namespace")
	}
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Suspend = false })
	f.waitReady(t)
}

func TestDriftIsRepaired(t *testing.T) {
	f := newFixture(t, "drift")
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	ctx := context.Background()

	// A deleted Deployment comes back.
	var d appsv1.Deployment
	if err := f.object(t, "worker", &d); err != nil {
		t.Fatal(err)
	}
	if err := env.k8s.Delete(ctx, &d); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		var again appsv1.Deployment
		if err := f.object(t, "worker", &again); err != nil {
			return err
		}
		if again.UID == d.UID {
			return fmt.Errorf("not deleted yet")
		}
		return nil
	})

	// An edited Deployment is put back; a label someone added stays.
	if err := f.object(t, "members", &d); err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = "evil:latest"
	d.Spec.Template.Spec.Containers[0].Env = append(d.Spec.Template.Spec.Containers[0].Env, corev1.EnvVar{Name: "EXTRA", Value: "1"})
	d.Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = ptr.To(false)
	d.Labels["team"] = "community-ops"
	if err := env.k8s.Update(ctx, &d); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		var again appsv1.Deployment
		if err := f.object(t, "members", &again); err != nil {
			return err
		}
		ctr := again.Spec.Template.Spec.Containers[0]
		if ctr.Image != "ghcr.io/kinshiphq/kinship:v0.1.0" || !*ctr.SecurityContext.ReadOnlyRootFilesystem {
			return fmt.Errorf("image %s, read-only root %v", ctr.Image, *ctr.SecurityContext.ReadOnlyRootFilesystem)
		}
		for _, e := range ctr.Env {
			if e.Name == "EXTRA" {
				return fmt.Errorf("added env var still there")
			}
		}
		if again.Labels["team"] != "community-ops" {
			return fmt.Errorf("a label others added was dropped")
		}
		return nil
	})

	// An edited Service and NetworkPolicy are put back.
	var svc corev1.Service
	if err := f.object(t, "members", &svc); err != nil {
		t.Fatal(err)
	}
	svc.Spec.Selector = map[string]string{"app": "other"}
	if err := env.k8s.Update(ctx, &svc); err != nil {
		t.Fatal(err)
	}
	var np networkingv1.NetworkPolicy
	if err := f.object(t, "kinship", &np); err != nil {
		t.Fatal(err)
	}
	np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{})
	if err := env.k8s.Update(ctx, &np); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if err := f.object(t, "members", &svc); err != nil {
			return err
		}
		if svc.Spec.Selector["app.kubernetes.io/component"] != "members" || len(svc.Spec.Selector) != 3 {
			return fmt.Errorf("selector %v", svc.Spec.Selector)
		}
		if err := f.object(t, "kinship", &np); err != nil {
			return err
		}
		for _, r := range np.Spec.Egress {
			if len(r.To) == 0 && len(r.Ports) == 0 {
				return fmt.Errorf("the allow-all egress rule is still there")
			}
		}
		return nil
	})

	// A deleted credentials Secret is issued again, with a new password
	// set on the role.
	var secret corev1.Secret
	if err := f.object(t, "drift-database", &secret); err != nil {
		t.Fatal(err)
	}
	oldURL := string(secret.Data["url"])
	if err := env.k8s.Delete(ctx, &secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		var again corev1.Secret
		if err := f.object(t, "drift-database", &again); err != nil {
			return err
		}
		u, err := url.Parse(string(again.Data["url"]))
		if err != nil {
			return err
		}
		pw, _ := u.User.Password()
		if string(again.Data["url"]) == oldURL || env.postgres.Roles(f.pgHost)["kinship_drift"] != pw {
			return fmt.Errorf("credentials not issued again")
		}
		return nil
	})

	// A topic deleted in Kafka is created again on the next reconcile.
	env.kafka.DeleteTopic(f.brokers, "drift.events.v1")
	f.nudge(t)
	eventually(t, 10*time.Second, func() error {
		if _, ok := env.kafka.Topics(f.brokers)["drift.events.v1"]; !ok {
			return fmt.Errorf("topic not recreated")
		}
		return nil
	})
	f.waitReady(t)
	if !contains(f.eventReasons(t), "Updated") {
		t.Error("repairs must be recorded as events")
	}
}

// The unsubscribe key signs the links in every mail sent: it is generated
// once and kept through reconciles and spec changes, a key put there by
// hand is kept, and only a missing or unusable one is generated again —
// which rolls the pods, so every replica signs with the same key.
func TestCommunicationsKeysAreKept(t *testing.T) {
	f := newFixture(t, "keys")
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	ctx := context.Background()
	secret := func() *corev1.Secret {
		t.Helper()
		var s corev1.Secret
		if err := f.object(t, "keys-communications", &s); err != nil {
			t.Fatal(err)
		}
		return &s
	}
	hash := func() string {
		t.Helper()
		var d appsv1.Deployment
		if err := f.object(t, "communications", &d); err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Annotations[resources.AnnotationSecretsHash]
	}
	first := secret()
	key, token := string(first.Data["unsubscribe-key"]), string(first.Data["bounce-token"])

	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Image.Tag = "v0.2.0" })
	f.waitReady(t)
	f.nudge(t)
	f.waitReady(t)
	waitSettled(t, time.Second)
	if s := secret(); string(s.Data["unsubscribe-key"]) != key || string(s.Data["bounce-token"]) != token {
		t.Fatal("reconciling replaced the generated keys")
	}

	// A key of one's own is kept.
	own := strings.Repeat("k", 40)
	s := secret()
	s.Data["unsubscribe-key"] = []byte(own)
	if err := env.k8s.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	f.nudge(t)
	f.waitReady(t)
	waitSettled(t, time.Second)
	if got := string(secret().Data["unsubscribe-key"]); got != own {
		t.Errorf("unsubscribe key %q, want the one set by hand", got)
	}

	// A key too short to use, or a deleted bounce token, is generated
	// again; the pods roll to it.
	before := hash()
	s = secret()
	s.Data["unsubscribe-key"] = []byte("short")
	delete(s.Data, "bounce-token")
	if err := env.k8s.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		s := secret()
		if k := s.Data["unsubscribe-key"]; len(k) < 32 || string(k) == own {
			return fmt.Errorf("unsubscribe key %q not generated again", k)
		}
		if len(s.Data["bounce-token"]) < 32 {
			return fmt.Errorf("bounce token not generated again")
		}
		if hash() == before {
			return fmt.Errorf("the pods were not rolled to the new key")
		}
		return nil
	})
	if !contains(f.eventReasons(t), "UnsubscribeKeyReplaced") {
		t.Error("replacing the unsubscribe key must be recorded as a warning event")
	}

	// A deleted Secret is issued again.
	s = secret()
	if err := env.k8s.Delete(ctx, s); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		var again corev1.Secret
		if err := f.object(t, "keys-communications", &again); err != nil {
			return err
		}
		if again.UID == s.UID || len(again.Data["unsubscribe-key"]) < 32 {
			return fmt.Errorf("not issued again yet")
		}
		return nil
	})
	f.waitReady(t)
}

func TestReconcilingAnUnchangedCommunityWritesNothing(t *testing.T) {
	f := newFixture(t, "idempotent")
	f.community.Spec.Ingress = &kinshipv1alpha1.IngressSpec{Host: "idempotent.example.org", ClassName: "nginx"}
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	waitSettled(t, time.Second)

	writesBefore := env.writes.about(f.name)
	kafkaBefore, temporalBefore, pgBefore := env.kafka.Calls(f.brokers), env.temporal.Calls(f.temporal), env.postgres.Calls(f.pgHost)
	reconcilesBefore := reconciles(t)
	f.nudge(t)
	eventually(t, 10*time.Second, func() error {
		if env.kafka.Calls(f.brokers).Reads == kafkaBefore.Reads {
			return fmt.Errorf("no reconcile yet")
		}
		return nil
	})
	waitSettled(t, time.Second)

	if n := reconciles(t) - reconcilesBefore; n < 1 {
		t.Fatalf("the nudge ran %v reconciles", n)
	}
	if after := env.writes.about(f.name); len(after) != len(writesBefore) {
		t.Errorf("a reconcile with nothing changed wrote to the API server: %v", after[len(writesBefore):])
	}
	if k := env.kafka.Calls(f.brokers); k.Writes != kafkaBefore.Writes {
		t.Errorf("kafka writes went from %d to %d", kafkaBefore.Writes, k.Writes)
	}
	if tc := env.temporal.Calls(f.temporal); tc.Writes != temporalBefore.Writes || tc.Reads == temporalBefore.Reads {
		t.Errorf("temporal calls %+v → %+v: want reads and no writes", temporalBefore, tc)
	}
	if pc := env.postgres.Calls(f.pgHost); pc.Writes != pgBefore.Writes || pc.Reads == pgBefore.Reads {
		t.Errorf("postgres calls %+v → %+v: want reads and no writes", pgBefore, pc)
	}
}

func TestUnreachableDependenciesBackOff(t *testing.T) {
	f := newFixture(t, "outage")
	env.kafka.SetUnreachable(f.brokers, true)
	env.postgres.SetUnreachable(f.pgHost, true)
	f.create(t)
	f.cleanup(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionTopicsReady, metav1.ConditionFalse, "KafkaUnreachable")
	f.waitCondition(t, kinshipv1alpha1.ConditionDatabaseReady, metav1.ConditionFalse, "DatabaseUnreachable")
	f.waitCondition(t, kinshipv1alpha1.ConditionDegraded, metav1.ConditionTrue, "")
	c := f.get(t)
	if c.Status.Phase != kinshipv1alpha1.PhaseDegraded {
		t.Errorf("phase %s", c.Status.Phase)
	}
	if cond := f.condition(t, kinshipv1alpha1.ConditionTopicsReady); !strings.Contains(cond.Message, "connection refused") {
		t.Errorf("the condition must say what failed: %q", cond.Message)
	}
	// Temporal was reachable: its namespace exists despite the outage.
	f.waitCondition(t, kinshipv1alpha1.ConditionTemporalNamespaceReady, metav1.ConditionTrue, "Registered")

	// Retries back off: base 250ms doubling up to 2s gives about 6 attempts
	// in 6 seconds; a hot loop would make thousands.
	start := env.kafka.Calls(f.brokers).Reads
	time.Sleep(6 * time.Second)
	attempts := env.kafka.Calls(f.brokers).Reads - start
	if attempts < 2 || attempts > 8 {
		t.Errorf("%d attempts in 6s; want a bounded backoff (2 to 8)", attempts)
	}
	if !contains(f.eventReasons(t), "KafkaUnreachable") {
		t.Error("the failure must be recorded as an event")
	}

	env.kafka.SetUnreachable(f.brokers, false)
	env.postgres.SetUnreachable(f.pgHost, false)
	f.waitReady(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionDegraded, metav1.ConditionFalse, "AsExpected")
}

func TestMissingAdminSecretIsReported(t *testing.T) {
	f := newFixture(t, "nosecret")
	f.community.Spec.Database.AdminSecretRef.Name = "does-not-exist"
	f.create(t)
	f.cleanup(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionDatabaseReady, metav1.ConditionFalse, "AdminSecretUnavailable")
	if cond := f.condition(t, kinshipv1alpha1.ConditionDatabaseReady); !strings.Contains(cond.Message, "kinship-system/does-not-exist not found") {
		t.Errorf("message %q", cond.Message)
	}
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Database.AdminSecretRef.Name = "nosecret-pg-admin" })
	f.waitReady(t)
}

func TestDeleteWithDeletePolicyRemovesExternalResources(t *testing.T) {
	f := newFixture(t, "delete-all")
	f.community.Spec.DeletionPolicy = kinshipv1alpha1.DeletionPolicyDelete
	f.create(t)
	f.waitReady(t)
	if len(env.kafka.Topics(f.brokers)) != 8 {
		t.Fatal("topics missing before deletion")
	}
	f.delete(t)
	f.waitGone(t)
	if got := env.kafka.Topics(f.brokers); len(got) != 0 {
		t.Errorf("topics left: %v", got)
	}
	if got := env.temporal.Namespaces(f.temporal); len(got) != 0 {
		t.Errorf("temporal namespaces left: %v", got)
	}
	if got := env.postgres.Databases(f.pgHost); len(got) != 0 {
		t.Errorf("databases left: %v", got)
	}
	if got := env.postgres.Roles(f.pgHost); len(got) != 0 {
		t.Errorf("roles left: %v", got)
	}
}

func TestDeleteWithRetainPolicyKeepsExternalResources(t *testing.T) {
	f := newFixture(t, "keep")
	f.create(t)
	f.waitReady(t)
	if p := f.get(t).Spec.DeletionPolicy; p != kinshipv1alpha1.DeletionPolicyRetain {
		t.Fatalf("the default deletion policy is %q, want Retain", p)
	}
	f.delete(t)
	f.waitGone(t)
	if got := env.kafka.Topics(f.brokers); len(got) != 8 {
		t.Errorf("topics: %v", got)
	}
	if _, ok := env.temporal.Namespaces(f.temporal)["keep"]; !ok {
		t.Error("the Temporal namespace was removed")
	}
	if _, ok := env.postgres.Databases(f.pgHost)["kinship_keep"]; !ok {
		t.Error("the database was removed")
	}
	if !contains(f.eventReasons(t), "ExternalResourcesRetained") {
		t.Error("no event says the resources were kept")
	}
}

func TestFailedDeletionKeepsTheFinalizer(t *testing.T) {
	f := newFixture(t, "stuck")
	f.community.Spec.DeletionPolicy = kinshipv1alpha1.DeletionPolicyDelete
	f.create(t)
	f.waitReady(t)
	env.temporal.SetUnreachable(f.temporal, true)
	f.delete(t)
	eventually(t, 30*time.Second, func() error {
		c := f.get(t)
		cond := meta.FindStatusCondition(c.Status.Conditions, kinshipv1alpha1.ConditionTemporalNamespaceReady)
		if c.Status.Phase != kinshipv1alpha1.PhaseDeleting || cond == nil || cond.Reason != "NamespaceDeleteFailed" {
			return fmt.Errorf("phase %s, condition %+v", c.Status.Phase, cond)
		}
		if !contains(c.Finalizers, Finalizer) {
			return fmt.Errorf("the finalizer was released despite the failure")
		}
		return nil
	})
	if got := env.kafka.Topics(f.brokers); len(got) != 0 {
		t.Errorf("the parts that could be deleted must be: topics %v", got)
	}
	env.temporal.SetUnreachable(f.temporal, false)
	f.waitGone(t)
	if got := env.temporal.Namespaces(f.temporal); len(got) != 0 {
		t.Errorf("temporal namespaces left: %v", got)
	}
}

func TestAStuckDeletionIsReleasedBySwitchingToRetain(t *testing.T) {
	f := newFixture(t, "released")
	f.community.Spec.DeletionPolicy = kinshipv1alpha1.DeletionPolicyDelete
	f.create(t)
	f.waitReady(t)
	env.temporal.SetUnreachable(f.temporal, true)
	t.Cleanup(func() { env.temporal.SetUnreachable(f.temporal, false) })
	f.delete(t)
	eventually(t, 30*time.Second, func() error {
		if p := f.get(t).Status.Phase; p != kinshipv1alpha1.PhaseDeleting {
			return fmt.Errorf("phase %s", p)
		}
		return nil
	})
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.DeletionPolicy = kinshipv1alpha1.DeletionPolicyRetain })
	f.waitGone(t)
	if !contains(f.eventReasons(t), "ExternalResourcesRetained") {
		t.Error("no event says the rest was kept")
	}
}
