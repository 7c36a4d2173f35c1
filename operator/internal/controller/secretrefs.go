package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// reasonRefused is the reason of a condition failed by a Secret reference
// the operator will not follow.
const reasonRefused = "SecretReferenceRefused"

// errRefused marks a Secret reference the operator will not follow.
var errRefused = errors.New("secret reference refused")

// secretRef is a Secret reference of a Community's spec and the field it
// is at, for messages.
type secretRef struct {
	field string
	kinshipv1alpha1.SecretReference
}

// secretNamespace is where ref resolves: the operator's own namespace when
// it names none (or names it), or the Community's instance namespace. Any
// other namespace is refused, whatever the API server let through (the
// CRD's rules say the same): a Community must never make the operator read
// kube-system's Secrets, send them to a broker it names, or copy them into
// its namespace. In the instance namespace a reference may not name a
// Secret the operator writes there.
func (r *CommunityReconciler) secretNamespace(c *kinshipv1alpha1.Community, ref secretRef) (string, error) {
	instance := resources.Namespace(c)
	switch ref.Namespace {
	case "", r.OperatorNamespace:
		return r.OperatorNamespace, nil
	case instance:
		if slices.Contains(resources.OperatorSecretNames(c), ref.Name) {
			return "", fmt.Errorf("%s: secret %s/%s is one the operator writes; name a Secret of your own: %w", ref.field, instance, ref.Name, errRefused)
		}
		return instance, nil
	}
	return "", fmt.Errorf("%s.namespace: %q is neither the operator's namespace %s (leave namespace out) nor the Community's own %s, and the operator reads Secrets nowhere else: %w",
		ref.field, ref.Namespace, r.OperatorNamespace, instance, errRefused)
}

// readSecret reads a referenced Secret straight from the API server, once
// its namespace is allowed. Errors never quote the Secret's data.
func (r *CommunityReconciler) readSecret(ctx context.Context, c *kinshipv1alpha1.Community, ref secretRef) (*corev1.Secret, error) {
	ns, err := r.secretNamespace(c, ref)
	if err != nil {
		return nil, err
	}
	var s corev1.Secret
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%s: secret %s/%s not found", ref.field, ns, ref.Name)
		}
		return nil, fmt.Errorf("%s: read secret %s/%s: %w", ref.field, ns, ref.Name, err)
	}
	return &s, nil
}

// reasonFor is reason, or reasonRefused when err is a refused reference.
func reasonFor(err error, reason string) string {
	if errors.Is(err, errRefused) {
		return reasonRefused
	}
	return reason
}
