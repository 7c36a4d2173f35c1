package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

const reasonApplyFailed = "ApplyFailed"

// reconcileNamespace ensures the instance namespace and the operator's
// access to it, and reports whether objects can be written into it. A
// namespace of that name the Community does not own is never taken over:
// the operator binds its instance role only in namespaces it created.
func (r *CommunityReconciler) reconcileNamespace(ctx context.Context, c *kinshipv1alpha1.Community, st *statusBuilder) bool {
	live, err := r.apply(ctx, c, resources.BuildNamespace(c))
	if err != nil {
		reason := reasonApplyFailed
		if errors.Is(err, errNotOwned) {
			reason = "NamespaceNotOwned"
		}
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, reason, err)
		return false
	}
	if ns := live.(*corev1.Namespace); ns.Status.Phase == corev1.NamespaceTerminating {
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, "NamespaceTerminating",
			fmt.Errorf("namespace %s is being deleted; it is created again once it is gone", ns.Name))
		return false
	}
	if err := r.reconcileAccess(ctx, c); err != nil {
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, "InstanceAccessFailed", err)
		return false
	}
	return true
}

// reconcileAccess binds the operator's instance role to the operator in
// the instance namespace — what lets it read and write there — and
// starts the namespace's cache. Until the RoleBinding exists the operator
// may not even read it, so the first one is created blind; afterwards it
// is kept as specified like every other object.
func (r *CommunityReconciler) reconcileAccess(ctx context.Context, c *kinshipv1alpha1.Community) error {
	ns := resources.Namespace(c)
	desired := resources.BuildRoleBinding(c, r.InstanceRole, r.Operator)
	if !r.Instances.Watching(ns) {
		if err := r.Client.Create(ctx, desired.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("bind the operator's role in %s: %w", ns, err)
		}
		if err := r.Instances.Watch(ctx, ns); err != nil {
			return err
		}
	}
	live, err := r.apply(ctx, c, desired)
	if err != nil {
		return err
	}
	if got := live.(*rbacv1.RoleBinding).RoleRef; got != desired.RoleRef {
		return fmt.Errorf("rolebinding %s/%s binds %s %s, not %s; delete it and the operator creates it again", ns, desired.Name, got.Kind, got.Name, desired.RoleRef.Name)
	}
	return nil
}

// reconcileWorkloads ensures the SMTP Secret copy, the communications
// Secret (generated keys), the copies of the Kafka and Temporal TLS
// Secrets, the SASL password and the console's client secret, the service
// account, ConfigMap, Deployments, Services, PodDisruptionBudgets,
// NetworkPolicies and Ingress, removes what the spec turned off, and
// reports the components' readiness. It returns the Deployments as the
// cluster has them, by component (nil when none could be written).
func (r *CommunityReconciler) reconcileWorkloads(ctx context.Context, c *kinshipv1alpha1.Community, nsReady bool, db dbResult, sec security, st *statusBuilder) map[string]*appsv1.Deployment {
	if !nsReady {
		return nil
	}
	smtpData, smtpErr := r.reconcileSMTPSecret(ctx, c)
	if smtpErr != nil {
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, reasonFor(smtpErr, "SMTPSecretUnavailable"), smtpErr)
	}
	dkimData, dkimErr := r.reconcileDKIMSecret(ctx, c)
	if dkimErr != nil {
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, reasonFor(dkimErr, "DKIMSecretUnavailable"), dkimErr)
	} else if d := c.Spec.SMTP.DKIM; d != nil && smtpErr == nil {
		if dkimErr = checkDKIMAlignment(string(smtpData["from"]), d.Domain); dkimErr != nil {
			st.fail(kinshipv1alpha1.ConditionWorkloadsReady, "DKIMDomainMismatch", dkimErr)
		}
	}
	keysData, keysErr := r.reconcileCommunicationsSecret(ctx, c)
	if keysErr != nil {
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, "CommunicationsSecretUnavailable", keysErr)
	}
	consoleData, consoleErr := r.reconcileConsoleSecret(ctx, c)
	if consoleErr != nil {
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, reasonFor(consoleErr, "ConsoleSecretUnavailable"), consoleErr)
	}
	tzErr := checkTimeZone(c)
	if tzErr != nil {
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, "InvalidTimeZone", tzErr)
	}
	copies, copiesOK := r.reconcileSecurityCopies(ctx, c, sec, st)
	if db.secretData == nil {
		db.secretData = r.cachedSecretData(ctx, c, resources.DatabaseSecretName(c))
	}
	hashed := map[string]string{
		"database": string(db.secretData["url"]), "smtp-url": string(smtpData["url"]), "smtp-from": string(smtpData["from"]),
		"unsubscribe-key": string(keysData[resources.UnsubscribeKeyKey]), "bounce-token": string(keysData[resources.BounceTokenKey]),
	}
	if dkimData != nil { // nothing without DKIM, so that such a Community keeps its hash
		hashed["dkim"] = string(dkimData[resources.DKIMKeyKey])
	}
	if consoleData != nil { // likewise without a client secret
		hashed["console-client-secret"] = string(consoleData[resources.ConsoleClientSecretKey])
	}
	copies.hashData(hashed)
	in := resources.Inputs{
		Database:    hostPortOf(string(db.secretData["url"])),
		SMTP:        hostPortOf(string(smtpData["url"])),
		SecretsHash: resources.HashData(hashed),
		KafkaTLS:    resources.TLSFilesOf(copies.kafkaTLS),
		TemporalTLS: resources.TLSFilesOf(copies.temporalTLS),
		APIServer:   r.APIServer,
		// The insights service lets the operator in, to sync the goals.
		OperatorNamespace:      r.Operator.Namespace,
		OperatorServiceAccount: r.Operator.Name,
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
	if err := r.removeDisabledComponents(ctx, c, in); err != nil {
		applyErrs = append(applyErrs, err.Error())
	}
	if len(applyErrs) > 0 {
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, reasonApplyFailed, fmt.Errorf("%s", strings.Join(applyErrs, "; ")))
		return deployments
	}

	var waiting []string
	st.components = nil
	for _, comp := range resources.EnabledComponents(c) {
		want := comp.Replicas(c)
		d := deployments[comp.Name]
		cs := kinshipv1alpha1.ComponentStatus{Name: comp.Name, Replicas: want, ReadyReplicas: d.Status.ReadyReplicas}
		st.components = append(st.components, cs)
		if !deploymentReady(d, want) {
			waiting = append(waiting, fmt.Sprintf("%s %d/%d", comp.Name, d.Status.ReadyReplicas, want))
		}
	}
	if smtpErr != nil || dkimErr != nil || keysErr != nil || consoleErr != nil || tzErr != nil || !copiesOK {
		return deployments
	}
	if _, ok := resources.PublicURL(c); !ok {
		st.fail(kinshipv1alpha1.ConditionWorkloadsReady, "NoHTTPSPublicURL", errors.New("the communications service needs an https address for the unsubscribe links in its mail: "+
			"give spec.ingress a tlsSecretName, or set spec.communications.publicURL when TLS ends in front of the cluster"))
		return deployments
	}
	switch {
	case len(waiting) > 0:
		st.waiting(kinshipv1alpha1.ConditionWorkloadsReady, "ReplicasNotReady", "ready replicas: "+strings.Join(waiting, ", "))
	case c.Spec.Suspend:
		st.ok(kinshipv1alpha1.ConditionWorkloadsReady, "Suspended", "every component is scaled to zero")
	default:
		st.ok(kinshipv1alpha1.ConditionWorkloadsReady, "AllReplicasReady", "every component has all its replicas ready")
	}
	return deployments
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
	data, err := r.readSecretKeys(ctx, c, secretRef{"spec.smtp.secretRef", c.Spec.SMTP.SecretRef}, "url", "from")
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
