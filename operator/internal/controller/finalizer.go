package controller

import (
	"context"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// Finalizer holds a Community until its external resources are dealt with
// as its deletion policy says. Its Kubernetes objects need no finalizer:
// they are owned by the Community and garbage-collected after it.
const Finalizer = "kinship.dev/external-resources"

func (r *CommunityReconciler) ensureFinalizer(ctx context.Context, c *kinshipv1alpha1.Community) error {
	if controllerutil.ContainsFinalizer(c, Finalizer) {
		return nil
	}
	orig := c.DeepCopy()
	controllerutil.AddFinalizer(c, Finalizer)
	if err := r.Client.Patch(ctx, c, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("add finalizer to community %s: %w", c.Name, err)
	}
	return nil
}

// finalize deletes the topics, the Temporal namespace and the database
// when the deletion policy is Delete, then releases the Community. Any
// failure keeps the finalizer, shows in the status and is retried.
func (r *CommunityReconciler) finalize(ctx context.Context, log *slog.Logger, c *kinshipv1alpha1.Community) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(c, Finalizer) {
		return ctrl.Result{}, nil
	}
	st := newStatusBuilder(c)
	st.deleting = true
	if c.Spec.DeletionPolicy == kinshipv1alpha1.DeletionPolicyDelete {
		r.deleteExternal(ctx, c, st)
		if st.failed() {
			if err := r.writeStatus(ctx, c, st); err != nil {
				return ctrl.Result{}, err
			}
			log.Info("deleting external resources failed; retrying with backoff", "reason", st.degradedReason())
			return ctrl.Result{}, fmt.Errorf("delete community %s: %s: %w", c.Name, st.degradedReason(), errRetry)
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "ExternalResourcesDeleted", "Delete",
			"deleted Kafka topics, Temporal namespace %s and database %s", resources.TemporalNamespace(c), resources.DatabaseName(c))
	} else {
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "ExternalResourcesRetained", "Delete",
			"kept Kafka topics, Temporal namespace %s and database %s (deletionPolicy Retain)", resources.TemporalNamespace(c), resources.DatabaseName(c))
	}
	orig := c.DeepCopy()
	controllerutil.RemoveFinalizer(c, Finalizer)
	if err := r.Client.Patch(ctx, c, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("remove finalizer from community %s: %w", c.Name, err)
	}
	log.Info("community released", "deletion_policy", c.Spec.DeletionPolicy)
	return ctrl.Result{}, nil
}

// deleteExternal removes what lives outside the cluster. Each part is
// attempted even when another fails.
func (r *CommunityReconciler) deleteExternal(ctx context.Context, c *kinshipv1alpha1.Community, st *statusBuilder) {
	sec := r.readSecurity(ctx, c)
	if err := sec.kafkaErr(); err != nil {
		st.fail(kinshipv1alpha1.ConditionTopicsReady, reasonFor(err, "KafkaSecretUnavailable"), err)
	} else if err := r.Kafka.DeleteTopics(ctx, sec.kafka, resources.TopicNames(c)); err != nil {
		st.fail(kinshipv1alpha1.ConditionTopicsReady, "TopicDeleteFailed", err)
	} else {
		st.waiting(kinshipv1alpha1.ConditionTopicsReady, "Deleted", "the topics are deleted")
	}
	if sec.temporalTLSErr != nil {
		st.fail(kinshipv1alpha1.ConditionTemporalNamespaceReady, reasonFor(sec.temporalTLSErr, "TemporalSecretUnavailable"), sec.temporalTLSErr)
	} else if err := r.Temporal.DeleteNamespace(ctx, sec.temporal, resources.TemporalNamespace(c)); err != nil {
		st.fail(kinshipv1alpha1.ConditionTemporalNamespaceReady, "NamespaceDeleteFailed", err)
	} else {
		st.waiting(kinshipv1alpha1.ConditionTemporalNamespaceReady, "Deleted", "the namespace is deleted")
	}
	admin, err := r.adminURL(ctx, c)
	if err != nil {
		st.fail(kinshipv1alpha1.ConditionDatabaseReady, reasonFor(err, "AdminSecretUnavailable"), err)
		return
	}
	if err := r.Postgres.Drop(ctx, admin.String(), resources.DatabaseName(c), resources.DatabaseRole(c)); err != nil {
		st.fail(kinshipv1alpha1.ConditionDatabaseReady, "DatabaseDropFailed", err)
	} else {
		st.waiting(kinshipv1alpha1.ConditionDatabaseReady, "Deleted", "the database and its role are dropped")
	}
}
