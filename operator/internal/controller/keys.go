package controller

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// minUnsubscribeKey is the shortest unsubscribe key the communications
// service accepts.
const minUnsubscribeKey = 32

// reconcileCommunicationsSecret ensures the Secret holding the
// communications service's unsubscribe key and bounce token. Each value is
// generated once and then kept, so that the unsubscribe links in mail
// already sent stay valid and every replica signs with the same key; a
// value is generated again only when it is missing (the Secret or the key
// was deleted) or unusable (a key shorter than 32 bytes). A value put
// there by hand is kept. The Secret is read from the API server, not the
// cache: a cache that has not seen the Secret yet must not make the
// operator replace a key that exists.
func (r *CommunityReconciler) reconcileCommunicationsSecret(ctx context.Context, c *kinshipv1alpha1.Community) (map[string][]byte, error) {
	name := resources.CommunicationsSecretName(c)
	var existing corev1.Secret
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: resources.Namespace(c), Name: name}, &existing)
	if err != nil && !apierrors.IsNotFound(err) {
		return r.cachedSecretData(ctx, c, name), fmt.Errorf("read secret %s/%s: %w", resources.Namespace(c), name, err)
	}
	found := err == nil
	key := string(existing.Data[resources.UnsubscribeKeyKey])
	token := string(existing.Data[resources.BounceTokenKey])
	var issued []string
	replacedKey := false
	if len(bytes.TrimRight([]byte(key), "\r\n")) < minUnsubscribeKey {
		replacedKey = found
		if key, err = randomSecret(32); err != nil {
			return r.cachedSecretData(ctx, c, name), err
		}
		issued = append(issued, "unsubscribe key")
	}
	if len(bytes.TrimRight([]byte(token), "\r\n")) == 0 {
		if token, err = randomSecret(32); err != nil {
			return r.cachedSecretData(ctx, c, name), err
		}
		issued = append(issued, "bounce token")
	}
	desired := resources.BuildCommunicationsSecret(c, key, token)
	if _, err := r.apply(ctx, c, desired); err != nil {
		return r.cachedSecretData(ctx, c, name), err
	}
	switch {
	case replacedKey:
		r.Recorder.Eventf(c, nil, corev1.EventTypeWarning, "UnsubscribeKeyReplaced", "Reconcile",
			"the unsubscribe key in secret %s was missing or shorter than %d bytes and a new one was generated; unsubscribe links in mail sent before no longer work", name, minUnsubscribeKey)
	case len(issued) > 0:
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "KeysGenerated", "Reconcile",
			"generated the communications service's %s in secret %s", strings.Join(issued, " and "), name)
	}
	return desired.Data, nil
}
