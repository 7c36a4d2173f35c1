package controller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/external"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// insecureSASL is added to the TopicsReady condition, and recorded as a
// Warning Event, when SASL PLAIN runs without TLS.
const insecureSASL = "warning: SASL PLAIN without TLS sends the Kafka password unencrypted; enable spec.kafka.tls"

// security is how the operator and the components reach Kafka and
// Temporal, as the spec and the Secrets it refers to say.
type security struct {
	// kafka and temporal are what the operator's own clients use; each is
	// usable only when its errors are nil.
	kafka    external.KafkaCluster
	temporal external.TemporalCluster
	// The data of the instance's copies: nil when the spec needs no copy
	// or its source could not be read (the matching error says why).
	kafkaTLS, kafkaSASL, temporalTLS          map[string][]byte
	kafkaTLSErr, kafkaSASLErr, temporalTLSErr error
}

// kafkaErr is why the operator cannot reach Kafka as specified.
func (s security) kafkaErr() error { return errors.Join(s.kafkaTLSErr, s.kafkaSASLErr) }

// readSecurity reads the TLS Secrets and the SASL password the spec
// refers to, straight from the API server, and checks them: PEM that does
// not parse, a certificate without its key, or an empty password is
// reported here rather than in pods that would crash-loop on it.
func (r *CommunityReconciler) readSecurity(ctx context.Context, c *kinshipv1alpha1.Community) security {
	s := security{
		kafka:    external.KafkaCluster{Brokers: c.Spec.Kafka.BootstrapServers},
		temporal: external.TemporalCluster{Address: c.Spec.Temporal.Address},
	}
	if k := c.Spec.Kafka; k.TLSEnabled() {
		s.kafka.TLS, s.kafkaTLS, s.kafkaTLSErr = r.readTLS(ctx, c, "spec.kafka.tls.secretRef", k.TLS)
	}
	if sasl := c.Spec.Kafka.SASL; sasl != nil {
		s.kafka.SASL, s.kafkaSASL, s.kafkaSASLErr = r.readSASL(ctx, c, sasl)
	}
	if t := c.Spec.Temporal; t.TLSEnabled() {
		s.temporal.TLS, s.temporalTLS, s.temporalTLSErr = r.readTLS(ctx, c, "spec.temporal.tls.secretRef", t.TLS)
	}
	return s
}

// readTLS returns the TLS settings of spec and, with a Secret, its data
// in the cert-manager layout.
func (r *CommunityReconciler) readTLS(ctx context.Context, c *kinshipv1alpha1.Community, field string, spec *kinshipv1alpha1.TLSSpec) (*external.TLS, map[string][]byte, error) {
	ref := spec.SecretRef
	if ref == nil {
		return &external.TLS{ServerName: spec.ServerName}, nil, nil
	}
	secret, err := r.readSecret(ctx, c, secretRef{field, *ref})
	if err != nil {
		return nil, nil, err
	}
	t, err := external.TLSFromSecret(fmt.Sprintf("%s: secret %s/%s", field, secret.Namespace, secret.Name), secret.Data, spec.ServerName)
	if err != nil {
		return nil, nil, err
	}
	return t, resources.TLSSecretData(secret.Data), nil
}

// readSASL returns the SASL settings with the password of the referenced
// Secret, and the data of its copy. Errors never quote the password.
func (r *CommunityReconciler) readSASL(ctx context.Context, c *kinshipv1alpha1.Community, spec *kinshipv1alpha1.KafkaSASLSpec) (*external.SASL, map[string][]byte, error) {
	ref := spec.PasswordSecretRef
	secret, err := r.readSecret(ctx, c, secretRef{"spec.kafka.sasl.passwordSecretRef", ref.Ref()})
	if err != nil {
		return nil, nil, err
	}
	key := ref.KeyOrDefault()
	raw := secret.Data[key]
	// The components drop a trailing newline from the password file.
	password := bytes.TrimRight(raw, "\r\n")
	if len(password) == 0 {
		return nil, nil, fmt.Errorf("spec.kafka.sasl.passwordSecretRef: secret %s/%s has no key %q, or it is empty", secret.Namespace, secret.Name, key)
	}
	return &external.SASL{Mechanism: string(spec.Mechanism), Username: spec.Username, Password: string(password)},
		map[string][]byte{resources.SASLPasswordKey: raw}, nil
}

// securityCopies are the data of the instance's copies of the Kafka and
// Temporal Secrets, as written (or, while a source fails, as they were).
type securityCopies struct {
	kafkaTLS, kafkaSASL, temporalTLS map[string][]byte
}

// hashData is what the copies add to the secrets hash: nothing without
// them, so that a Community without TLS or SASL keeps its hash.
func (cp securityCopies) hashData(into map[string]string) {
	for prefix, data := range map[string]map[string][]byte{"kafka-tls/": cp.kafkaTLS, "kafka-sasl/": cp.kafkaSASL, "temporal-tls/": cp.temporalTLS} {
		for k, v := range data {
			into[prefix+k] = string(v)
		}
	}
}

// reconcileSecurityCopies copies the TLS Secrets and the SASL password
// into the instance namespace, where the pods read them, and removes
// copies the spec no longer asks for. A source that cannot be read fails
// WorkloadsReady; its copy is kept as it is, so running pods keep working.
// It reports whether every copy is as specified.
func (r *CommunityReconciler) reconcileSecurityCopies(ctx context.Context, c *kinshipv1alpha1.Community, sec security, st *statusBuilder) (securityCopies, bool) {
	var out securityCopies
	ok := true
	parts := []struct {
		name   string
		needed bool
		data   map[string][]byte
		err    error
		build  func(map[string][]byte) *corev1.Secret
		reason string
		into   *map[string][]byte
	}{
		{resources.KafkaTLSSecretName(c), c.Spec.Kafka.TLS.TLSSecretRef() != nil, sec.kafkaTLS, sec.kafkaTLSErr,
			func(d map[string][]byte) *corev1.Secret { return resources.BuildKafkaTLSSecret(c, d) }, "KafkaTLSSecretUnavailable", &out.kafkaTLS},
		{resources.KafkaSASLSecretName(c), c.Spec.Kafka.SASL != nil, sec.kafkaSASL, sec.kafkaSASLErr,
			func(d map[string][]byte) *corev1.Secret {
				return resources.BuildKafkaSASLSecret(c, d[resources.SASLPasswordKey])
			}, "KafkaSASLSecretUnavailable", &out.kafkaSASL},
		{resources.TemporalTLSSecretName(c), c.Spec.Temporal.TLS.TLSSecretRef() != nil, sec.temporalTLS, sec.temporalTLSErr,
			func(d map[string][]byte) *corev1.Secret { return resources.BuildTemporalTLSSecret(c, d) }, "TemporalTLSSecretUnavailable", &out.temporalTLS},
	}
	for _, p := range parts {
		if !p.needed {
			if err := r.removeOwnedSecret(ctx, c, p.name); err != nil {
				st.fail(kinshipv1alpha1.ConditionWorkloadsReady, reasonApplyFailed, err)
				ok = false
			}
			continue
		}
		if p.err != nil {
			st.fail(kinshipv1alpha1.ConditionWorkloadsReady, reasonFor(p.err, p.reason), p.err)
			*p.into, ok = r.cachedSecretData(ctx, c, p.name), false
			continue
		}
		desired := p.build(p.data)
		if _, err := r.apply(ctx, c, desired); err != nil {
			st.fail(kinshipv1alpha1.ConditionWorkloadsReady, reasonApplyFailed, err)
			*p.into, ok = r.cachedSecretData(ctx, c, p.name), false
			continue
		}
		*p.into = maps.Clone(desired.Data)
	}
	return out, ok
}

// removeOwnedSecret deletes a Secret of the instance namespace that the
// Community owns, once the spec no longer asks for it.
func (r *CommunityReconciler) removeOwnedSecret(ctx context.Context, c *kinshipv1alpha1.Community, name string) error {
	var s corev1.Secret
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: resources.Namespace(c), Name: name}, &s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read secret %s: %w", name, err)
	}
	if !metav1.IsControlledBy(&s, c) {
		return nil
	}
	if err := r.Client.Delete(ctx, &s); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete secret %s: %w", name, err)
	}
	r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "SecretRemoved", "Reconcile", "secret %s/%s is no longer needed and was deleted", resources.Namespace(c), name)
	return nil
}
