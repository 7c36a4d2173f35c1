package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// reconcileTemporal registers the community's Temporal namespace and keeps
// its retention as specified.
func (r *CommunityReconciler) reconcileTemporal(ctx context.Context, c *kinshipv1alpha1.Community, sec security, st *statusBuilder) {
	const cond = kinshipv1alpha1.ConditionTemporalNamespaceReady
	if sec.temporalTLSErr != nil {
		st.fail(cond, reasonFor(sec.temporalTLSErr, "TemporalSecretUnavailable"), sec.temporalTLSErr)
		return
	}
	addr, name := sec.temporal, resources.TemporalNamespace(c)
	want := c.Spec.Temporal.NamespaceRetentionOrDefault()
	cur, err := r.Temporal.DescribeNamespace(ctx, addr, name)
	if err != nil {
		st.fail(cond, "TemporalUnreachable", err)
		return
	}
	switch {
	case !cur.Exists:
		if err := r.Temporal.RegisterNamespace(ctx, addr, name, want); err != nil {
			st.fail(cond, "NamespaceRegisterFailed", err)
			return
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "NamespaceRegistered", "Reconcile", "registered Temporal namespace %s", name)
	case cur.Retention != want:
		if err := r.Temporal.SetRetention(ctx, addr, name, want); err != nil {
			st.fail(cond, "RetentionUpdateFailed", err)
			return
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "NamespaceRetentionUpdated", "Reconcile", "Temporal namespace %s retention set to %s", name, want)
	}
	st.ok(cond, "Registered", fmt.Sprintf("namespace %s is registered with retention %s", name, want))
}
