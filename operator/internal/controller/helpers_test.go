package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// eventually retries fn until it returns nil or timeout passes.
func eventually(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not true after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fixture is one Community with addresses of its own, so that the fakes
// count its calls apart from other tests'.
type fixture struct {
	name      string
	brokers   []string
	temporal  string
	pgHost    string
	adminURL  string
	smtpURL   string
	community *kinshipv1alpha1.Community
}

// newFixture creates the referenced Secrets and returns a Community ready
// to be created, talking to the fakes.
func newFixture(t testing.TB, name string) *fixture {
	t.Helper()
	f := &fixture{
		name:     name,
		brokers:  []string{"kafka-" + name + ".data:9092"},
		temporal: "temporal-" + name + ".temporal:7233",
		pgHost:   "pg-" + name + ".data:5432",
	}
	f.adminURL = "postgres://admin:admin-pw@" + f.pgHost + "/postgres?sslmode=require"
	f.smtpURL = "smtp+starttls://mailer:pw@mail-" + name + ".example.org:587"
	f.community = &kinshipv1alpha1.Community{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: kinshipv1alpha1.CommunitySpec{
			DisplayName: "Community " + name,
			Purpose:     "Test that " + name + " gets an instance.",
			Image:       kinshipv1alpha1.ImageSpec{Repository: "ghcr.io/kinshiphq/kinship", Tag: "v0.1.0"},
			Kafka:       kinshipv1alpha1.KafkaSpec{BootstrapServers: f.brokers},
			Temporal:    kinshipv1alpha1.TemporalSpec{Address: f.temporal},
			Database:    kinshipv1alpha1.DatabaseSpec{AdminSecretRef: kinshipv1alpha1.SecretReference{Name: name + "-pg-admin"}},
			SMTP:        kinshipv1alpha1.SMTPSpec{SecretRef: kinshipv1alpha1.SecretReference{Name: name + "-smtp"}},
			Auth:        kinshipv1alpha1.AuthSpec{Issuer: "https://id.example.org"},
			// Where members follow the links in mail to, with TLS ending
			// in front of the cluster.
			Communications: kinshipv1alpha1.CommunicationsSpec{PublicURL: "https://" + name + ".example.org"},
		},
	}
	f.writeSecrets(t)
	return f
}

func (f *fixture) writeSecrets(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: secretsNamespace, Name: f.name + "-pg-admin"}, StringData: map[string]string{"url": f.adminURL}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: secretsNamespace, Name: f.name + "-smtp"}, StringData: map[string]string{"url": f.smtpURL, "from": "Kinship <no-reply@example.org>"}},
	} {
		err := env.k8s.Create(ctx, s)
		if apierrors.IsAlreadyExists(err) {
			err = env.k8s.Update(ctx, s)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) ns() string { return "kinship-" + f.name }

func (f *fixture) create(t testing.TB) {
	t.Helper()
	if err := env.k8s.Create(context.Background(), f.community); err != nil {
		t.Fatalf("create community %s: %v", f.name, err)
	}
}

func (f *fixture) get(t testing.TB) *kinshipv1alpha1.Community {
	t.Helper()
	var c kinshipv1alpha1.Community
	if err := env.k8s.Get(context.Background(), client.ObjectKey{Name: f.name}, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// update applies change to the live Community, retrying on conflicts.
func (f *fixture) update(t testing.TB, change func(c *kinshipv1alpha1.Community)) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		c := f.get(t)
		change(c)
		return env.k8s.Update(context.Background(), c)
	})
}

// nudge makes the operator reconcile without changing the spec.
func (f *fixture) nudge(t testing.TB) {
	t.Helper()
	c := f.get(t)
	orig := c.DeepCopy()
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations["test.kinship.dev/nudge"] = time.Now().Format(time.RFC3339Nano)
	if err := env.k8s.Patch(context.Background(), c, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
}

// condition returns the live condition of type condType.
func (f *fixture) condition(t testing.TB, condType string) *metav1.Condition {
	t.Helper()
	return meta.FindStatusCondition(f.get(t).Status.Conditions, condType)
}

// waitCondition waits until condType has status and, if set, reason, for
// the current generation.
func (f *fixture) waitCondition(t testing.TB, condType string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		c := f.get(t)
		cond := meta.FindStatusCondition(c.Status.Conditions, condType)
		if cond == nil {
			return fmt.Errorf("no %s condition yet", condType)
		}
		if cond.Status != status || (reason != "" && cond.Reason != reason) || c.Status.ObservedGeneration != c.Generation {
			return fmt.Errorf("%s is %s/%s (%s), generation %d observed %d; want %s/%s",
				condType, cond.Status, cond.Reason, cond.Message, c.Generation, c.Status.ObservedGeneration, status, reason)
		}
		return nil
	})
}

func (f *fixture) waitReady(t testing.TB) {
	t.Helper()
	f.waitCondition(t, kinshipv1alpha1.ConditionReady, metav1.ConditionTrue, "Ready")
}

// waitGone waits until the Community no longer exists.
func (f *fixture) waitGone(t testing.TB) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		var c kinshipv1alpha1.Community
		err := env.k8s.Get(context.Background(), client.ObjectKey{Name: f.name}, &c)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("community %s still exists with finalizers %v", f.name, c.Finalizers)
	})
}

func (f *fixture) delete(t testing.TB) {
	t.Helper()
	if err := env.k8s.Delete(context.Background(), f.community); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
}

// object reads one object of the instance namespace.
func (f *fixture) object(t testing.TB, name string, obj client.Object) error {
	t.Helper()
	return env.k8s.Get(context.Background(), client.ObjectKey{Namespace: f.ns(), Name: name}, obj)
}

// eventReasons lists the reasons of the Events recorded for the Community.
func (f *fixture) eventReasons(t testing.TB) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := env.k8s.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "Community" && e.Regarding.Name == f.name {
			out = append(out, e.Reason)
		}
	}
	return out
}

// waitSettled waits until the operator has stopped reconciling: the
// reconcile count stays the same for quiet.
func waitSettled(t testing.TB, quiet time.Duration) {
	t.Helper()
	last := reconciles(t)
	stableSince := time.Now()
	deadline := time.Now().Add(60 * time.Second)
	for time.Since(stableSince) < quiet {
		if time.Now().After(deadline) {
			t.Fatal("the operator never settled")
		}
		time.Sleep(50 * time.Millisecond)
		if n := reconciles(t); n != last {
			last, stableSince = n, time.Now()
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
