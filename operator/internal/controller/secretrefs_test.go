package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// stolen is what a Secret in kube-system holds in the attack below; it
// must never show up in a condition, a copy or a call to Kafka.
const stolen = "kube-system-secret-value"

// An attacker who can write Communities — on a cluster whose CRD predates
// the namespace rules (Helm never upgrades CRDs), so the API server lets
// the Community through — points its Secret references at kube-system:
// the SASL password at a broker it names, the database admin URL, the
// SMTP settings it would get copied into its namespace. The operator
// follows none of them and says why without quoting anything; and were it
// to try, its service account could not read kube-system's Secrets.
func TestTheOperatorRefusesSecretsOfOtherNamespaces(t *testing.T) {
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "cloud-credentials"},
		StringData: map[string]string{"password": stolen, "url": "postgres://" + stolen + "@db:5432/postgres", "from": stolen}}
	if err := env.k8s.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	victim := kinshipv1alpha1.SecretReference{Namespace: "kube-system", Name: "cloud-credentials"}

	// The Community as an old CRD would store it; it never reaches this
	// API server, whose CRD refuses it.
	f := newFixture(t, "thief")
	c := f.community.DeepCopy()
	c.UID = types.UID("00000000-0000-4000-8000-00000000beef")
	c.Generation = 1
	c.Spec.Kafka.SASL = &kinshipv1alpha1.KafkaSASLSpec{Mechanism: kinshipv1alpha1.SASLPlain, Username: "thief",
		PasswordSecretRef: kinshipv1alpha1.SecretKeyReference{Namespace: victim.Namespace, Name: victim.Name, Key: "password"}}
	c.Spec.Database.AdminSecretRef = victim
	c.Spec.SMTP.SecretRef = victim
	c.Spec.Temporal.TLS = &kinshipv1alpha1.TLSSpec{Enabled: true, SecretRef: &victim}
	if err := env.k8s.Create(ctx, c.DeepCopy(), client.DryRunAll); err == nil {
		t.Fatal("the API server accepted references to kube-system")
	}

	r := env.reconciler
	st := newStatusBuilder(c)
	sec := r.readSecurity(ctx, c)
	r.reconcileTopics(ctx, c, sec, st)
	r.reconcileTemporal(ctx, c, sec, st)
	r.reconcileDatabase(ctx, c, true, st)
	_, smtpErr := r.reconcileSMTPSecret(ctx, c)

	for _, cond := range []string{kinshipv1alpha1.ConditionTopicsReady, kinshipv1alpha1.ConditionTemporalNamespaceReady, kinshipv1alpha1.ConditionDatabaseReady} {
		got := st.conds[cond]
		if got.Status != metav1.ConditionFalse || got.Reason != reasonRefused {
			t.Errorf("%s is %s/%s (%s), want False/%s", cond, got.Status, got.Reason, got.Message, reasonRefused)
		}
		if !strings.Contains(got.Message, `"kube-system" is neither the operator's namespace kinship-system`) {
			t.Errorf("%s: the message %q does not say which namespaces are allowed", cond, got.Message)
		}
		if strings.Contains(got.Message, stolen) {
			t.Errorf("%s quotes the Secret: %s", cond, got.Message)
		}
	}
	if !errors.Is(smtpErr, errRefused) {
		t.Errorf("the SMTP settings of kube-system were followed: %v", smtpErr)
	}
	if calls := env.kafka.Calls(f.brokers); calls.Reads+calls.Writes > 0 {
		t.Errorf("the operator called the broker the spec names %d times; the password must never leave", calls.Reads+calls.Writes)
	}
	if calls := env.postgres.Calls(f.pgHost); calls.Reads+calls.Writes > 0 {
		t.Errorf("the operator called the database %d times", calls.Reads+calls.Writes)
	}

	// Below the check, the operator's own permissions refuse it too.
	var s corev1.Secret
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(secret), &s); !apierrors.IsForbidden(err) {
		t.Errorf("the operator's service account read kube-system/%s: %v; want forbidden", secret.Name, err)
	}
}

// A Secret the operator writes into the instance namespace cannot be the
// source of a reference: the generated bounce token must not become a
// SASL password sent to a broker the spec names.
func TestAReferenceToASecretTheOperatorWritesIsRefused(t *testing.T) {
	f := newFixture(t, "loop")
	c := f.community.DeepCopy()
	c.Spec.Kafka.SASL = &kinshipv1alpha1.KafkaSASLSpec{Mechanism: kinshipv1alpha1.SASLSCRAMSHA512, Username: "loop",
		PasswordSecretRef: kinshipv1alpha1.SecretKeyReference{Namespace: f.ns(), Name: "loop-communications", Key: "bounce-token"}}
	sec := env.reconciler.readSecurity(context.Background(), c)
	if !errors.Is(sec.kafkaSASLErr, errRefused) || !strings.Contains(sec.kafkaSASLErr.Error(), "one the operator writes") {
		t.Errorf("kafka SASL error: %v; want a refusal", sec.kafkaSASLErr)
	}
}

// Secrets may live in the Community's own namespace: the operator reads
// them there once it has created the namespace (and bound its role).
func TestSecretsInTheInstanceNamespaceAreRead(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "own-secrets")
	f.community.Spec.SMTP.SecretRef = kinshipv1alpha1.SecretReference{Namespace: f.ns(), Name: "mail-settings"}
	f.create(t)
	f.cleanup(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionWorkloadsReady, metav1.ConditionFalse, "SMTPSecretUnavailable")
	if msg := f.condition(t, kinshipv1alpha1.ConditionWorkloadsReady).Message; !strings.Contains(msg, "spec.smtp.secretRef: secret "+f.ns()+"/mail-settings not found") {
		t.Errorf("WorkloadsReady says %q", msg)
	}

	own := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns(), Name: "mail-settings"},
		StringData: map[string]string{"url": "smtps://mailer:pw@mail.example.org:465", "from": "Own <own@example.org>"}}
	if err := env.k8s.Create(ctx, own); err != nil {
		t.Fatal(err)
	}
	f.nudge(t)
	f.waitReady(t)
	eventually(t, 10*time.Second, func() error {
		var copied corev1.Secret
		if err := f.object(t, "own-secrets-smtp", &copied); err != nil {
			return err
		}
		if string(copied.Data["url"]) != "smtps://mailer:pw@mail.example.org:465" {
			return fmt.Errorf("the copy holds %q", copied.Data["url"])
		}
		return nil
	})
}

// crdWithoutReferenceRules makes the API server's Community CRD the one of
// a version without the Secret reference rules, for the duration of fn:
// how a cluster upgraded from that version holds Communities that name
// any namespace.
func crdWithoutReferenceRules(t *testing.T, fn func()) {
	t.Helper()
	ctx := context.Background()
	key := client.ObjectKey{Name: "communities.kinship.dev"}
	get := func() *unstructured.Unstructured {
		crd := &unstructured.Unstructured{}
		crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
		if err := env.k8s.Get(ctx, key, crd); err != nil {
			t.Fatal(err)
		}
		return crd
	}
	rulesPath := func(crd *unstructured.Unstructured) ([]any, []any) {
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		rules, _, _ := unstructured.NestedSlice(versions[0].(map[string]any), "schema", "openAPIV3Schema", "x-kubernetes-validations")
		return versions, rules
	}
	setRules := func(rules []any) {
		eventually(t, 10*time.Second, func() error {
			crd := get()
			versions, _ := rulesPath(crd)
			if err := unstructured.SetNestedSlice(versions[0].(map[string]any), rules, "schema", "openAPIV3Schema", "x-kubernetes-validations"); err != nil {
				return err
			}
			if err := unstructured.SetNestedSlice(crd.Object, versions, "spec", "versions"); err != nil {
				return err
			}
			return env.k8s.Update(ctx, crd)
		})
	}
	_, all := rulesPath(get())
	var kept []any
	for _, r := range all {
		if r.(map[string]any)["reason"] != "FieldValueForbidden" {
			kept = append(kept, r)
		}
	}
	if len(kept) == len(all) {
		t.Fatal("the CRD has no Secret reference rules to take away")
	}
	probe := validCommunity("crd-probe")
	probe.Spec.SMTP.SecretRef.Namespace = "kube-system"
	accepted := func() bool { return env.k8s.Create(ctx, probe.DeepCopy(), client.DryRunAll) == nil }
	setRules(kept)
	eventually(t, 10*time.Second, func() error {
		if !accepted() {
			return fmt.Errorf("the old CRD is not in effect yet")
		}
		return nil
	})
	defer func() {
		setRules(all)
		eventually(t, 10*time.Second, func() error {
			if accepted() {
				return fmt.Errorf("the rules are not back yet")
			}
			return nil
		})
	}()
	fn()
}

// A Community stored before the rules existed, naming kube-system, keeps
// being refused by the operator, which says so in its status; it can
// still be edited elsewhere and deleted (the rules ratchet: a reference
// that did not change is not checked again), but not pointed at another
// foreign namespace; once fixed it becomes Ready.
func TestACommunityStoredBeforeTheRulesIsRefusedAndCanBeFixed(t *testing.T) {
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "legacy-smtp"},
		StringData: map[string]string{"url": "smtps://root:" + stolen + "@mail.attacker.example:465", "from": "x <x@attacker.example>"}}
	if err := env.k8s.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	f := newFixture(t, "legacy")
	f.community.Spec.SMTP.SecretRef = kinshipv1alpha1.SecretReference{Namespace: "kube-system", Name: "legacy-smtp"}
	crdWithoutReferenceRules(t, func() { f.create(t) })
	f.cleanup(t)

	f.waitCondition(t, kinshipv1alpha1.ConditionWorkloadsReady, metav1.ConditionFalse, reasonRefused)
	cond := f.condition(t, kinshipv1alpha1.ConditionWorkloadsReady)
	if !strings.Contains(cond.Message, `spec.smtp.secretRef.namespace: "kube-system" is neither`) || strings.Contains(cond.Message, stolen) {
		t.Errorf("WorkloadsReady says %q", cond.Message)
	}
	var copied corev1.Secret
	if err := f.object(t, "legacy-smtp", &copied); !apierrors.IsNotFound(err) {
		t.Errorf("kube-system's Secret was copied into the instance namespace: %v", err)
	}

	f.nudge(t) // an edit elsewhere passes
	var err error
	for {
		c := f.get(t)
		c.Spec.SMTP.SecretRef.Namespace = "default"
		if err = env.k8s.Update(ctx, c); !apierrors.IsConflict(err) {
			break // else the operator wrote meanwhile
		}
	}
	if err == nil || !strings.Contains(err.Error(), "spec.smtp.secretRef.namespace") {
		t.Errorf("pointing the reference at another foreign namespace: %v; want a refusal", err)
	}
	f.update(t, func(c *kinshipv1alpha1.Community) {
		c.Spec.SMTP.SecretRef = kinshipv1alpha1.SecretReference{Name: "legacy-smtp"}
	})
	f.waitReady(t)
}
