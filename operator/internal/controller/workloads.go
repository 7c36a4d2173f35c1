package controller

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

const reasonApplyFailed = "ApplyFailed"

// reconcileNamespace ensures the instance namespace and reports whether
// objects can be written into it.
func (r *CommunityReconciler) reconcileNamespace(ctx context.Context, c *kinshipv1alpha1.Community, st *statusBuilder) bool {
	live, err := r.apply(ctx, c, resources.BuildNamespace(c))
	if err != nil {
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, reasonApplyFailed, err)
		return false
	}
	if ns := live.(*corev1.Namespace); ns.Status.Phase == corev1.NamespaceTerminating {
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, "NamespaceTerminating",
			fmt.Errorf("namespace %s is being deleted; it is created again once it is gone", ns.Name))
		return false
	}
	return true
}

// reconcileWorkloads ensures the SMTP Secret copy, the communications
// Secret (generated keys), the copies of the Kafka and Temporal TLS
// Secrets and the SASL password, the service account, ConfigMap,
// Deployments, Services, PodDisruptionBudgets, NetworkPolicy and Ingress,
// and reports the components' readiness.
func (r *CommunityReconciler) reconcileWorkloads(ctx context.Context, c *kinshipv1alpha1.Community, nsReady bool, db dbResult, sec security, st *statusBuilder) {
	if !nsReady {
		return
	}
	smtpData, smtpErr := r.reconcileSMTPSecret(ctx, c)
	if smtpErr != nil {
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, "SMTPSecretUnavailable", smtpErr)
	}
	keysData, keysErr := r.reconcileCommunicationsSecret(ctx, c)
	if keysErr != nil {
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, "CommunicationsSecretUnavailable", keysErr)
	}
	copies, copiesOK := r.reconcileSecurityCopies(ctx, c, sec, st)
	if db.secretData == nil {
		db.secretData = r.cachedSecretData(ctx, c, resources.DatabaseSecretName(c))
	}
	hashed := map[string]string{
		"database": string(db.secretData["url"]), "smtp-url": string(smtpData["url"]), "smtp-from": string(smtpData["from"]),
		"unsubscribe-key": string(keysData[resources.UnsubscribeKeyKey]), "bounce-token": string(keysData[resources.BounceTokenKey]),
	}
	copies.hashData(hashed)
	in := resources.Inputs{
		Database:    hostPortOf(string(db.secretData["url"])),
		SMTP:        hostPortOf(string(smtpData["url"])),
		SecretsHash: resources.HashData(hashed),
		KafkaTLS:    resources.TLSFilesOf(copies.kafkaTLS),
		TemporalTLS: resources.TLSFilesOf(copies.temporalTLS),
	}

	deployments := map[string]*appsv1.Deployment{}
	var applyErrs []string
	for _, desired := range resources.Workloads(c, in) {
		live, err := r.apply(ctx, c, desired)
		if err != nil {
			applyErrs = append(applyErrs, err.Error())
			continue
		}
		if d, ok := live.(*appsv1.Deployment); ok {
			deployments[d.Name] = d
		}
	}
	if c.Spec.Ingress == nil {
		if err := r.removeIngress(ctx, c); err != nil {
			applyErrs = append(applyErrs, err.Error())
		}
	}
	if len(applyErrs) > 0 {
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, reasonApplyFailed, fmt.Errorf("%s", strings.Join(applyErrs, "; ")))
		return
	}

	var waiting []string
	st.components = nil
	for _, comp := range resources.Components() {
		want := comp.Replicas(c)
		d := deployments[comp.Name]
		cs := kinshipv1alpha1.ComponentStatus{Name: comp.Name, Replicas: want, ReadyReplicas: d.Status.ReadyReplicas}
		st.components = append(st.components, cs)
		if !deploymentReady(d, want) {
			waiting = append(waiting, fmt.Sprintf("%s %d/%d", comp.Name, d.Status.ReadyReplicas, want))
		}
	}
	if smtpErr != nil || keysErr != nil || !copiesOK {
		return
	}
	switch {
	case len(waiting) > 0:
		st.waiting(kinshipv1alpha1.ConditionWorkloadsReady, "ReplicasNotReady", "ready replicas: "+strings.Join(waiting, ", "))
	case c.Spec.Suspend:
		st.ok(kinshipv1alpha1.ConditionWorkloadsReady, "Suspended", "every component is scaled to zero")
	default:
		st.ok(kinshipv1alpha1.ConditionWorkloadsReady, "AllReplicasReady", "every component has all its replicas ready")
	}
}

// deploymentReady reports whether the Deployment's controller has rolled
// out the current spec and every replica is ready.
func deploymentReady(d *appsv1.Deployment, want int32) bool {
	s := d.Status
	return s.ObservedGeneration >= d.Generation &&
		s.UpdatedReplicas == want && s.ReadyReplicas == want && s.AvailableReplicas == want && s.Replicas == want
}

// reconcileSMTPSecret copies the referenced SMTP settings into the
// instance namespace, where the communications pods can read them.
func (r *CommunityReconciler) reconcileSMTPSecret(ctx context.Context, c *kinshipv1alpha1.Community) (map[string][]byte, error) {
	data, err := r.readSecretKeys(ctx, c.Spec.SMTP.SecretRef, "url", "from")
	if err != nil {
		return r.cachedSecretData(ctx, c, resources.SMTPSecretName(c)), err
	}
	desired := resources.BuildSMTPSecret(c, data["url"], data["from"])
	if _, err := r.apply(ctx, c, desired); err != nil {
		return r.cachedSecretData(ctx, c, resources.SMTPSecretName(c)), err
	}
	return desired.Data, nil
}

// cachedSecretData returns the data of a managed Secret as the cache has
// it, or nil. Pods keep the settings they have while a source is failing.
func (r *CommunityReconciler) cachedSecretData(ctx context.Context, c *kinshipv1alpha1.Community, name string) map[string][]byte {
	var s corev1.Secret
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: resources.Namespace(c), Name: name}, &s); err != nil {
		return nil
	}
	return s.Data
}

// removeIngress deletes the Ingress the operator made once spec.ingress is
// gone.
func (r *CommunityReconciler) removeIngress(ctx context.Context, c *kinshipv1alpha1.Community) error {
	var ing networkingv1.Ingress
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: resources.Namespace(c), Name: resources.IngressName}, &ing)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read ingress: %w", err)
	}
	if !metav1.IsControlledBy(&ing, c) {
		return nil
	}
	if err := r.Client.Delete(ctx, &ing); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete ingress: %w", err)
	}
	return nil
}

// hostPortOf returns the host:port of a URL, with the scheme's default
// port when it names none, or "" when raw is not a URL.
func hostPortOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{
			"postgres": "5432", "postgresql": "5432",
			"smtp": "25", "smtp+starttls": "587", "smtps": "465",
		}[u.Scheme]
	}
	if port == "" {
		return ""
	}
	return net.JoinHostPort(u.Hostname(), port)
}
