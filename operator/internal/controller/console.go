package controller

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// reconcileConsoleSecret copies the console's OpenID Connect client
// secret, which spec.console.clientSecret names, into the instance
// namespace, where the console reads it. Without one (a public client),
// or with the console off, the copy is removed. Like the other copies, a
// source that fails leaves the copy as it was.
func (r *CommunityReconciler) reconcileConsoleSecret(ctx context.Context, c *kinshipv1alpha1.Community) (map[string][]byte, error) {
	name := resources.ConsoleSecretName(c)
	cs := c.Spec.Console.ClientSecret
	if cs == nil || !c.Spec.Console.IsEnabled() {
		return nil, r.removeOwnedSecret(ctx, c, name)
	}
	ref := secretRef{"spec.console.clientSecret.secretRef", cs.SecretRef}
	s, err := r.readSecret(ctx, c, ref)
	if err != nil {
		return r.cachedSecretData(ctx, c, name), err
	}
	secret := s.Data[cs.KeyOrDefault()]
	if len(bytes.TrimSpace(secret)) == 0 {
		return r.cachedSecretData(ctx, c, name), fmt.Errorf("%s: secret %s/%s has no key %q, or it is empty", ref.field, s.Namespace, s.Name, cs.KeyOrDefault())
	}
	desired := resources.BuildConsoleSecret(c, secret)
	if _, err := r.apply(ctx, c, desired); err != nil {
		return r.cachedSecretData(ctx, c, name), err
	}
	return desired.Data, nil
}

// removeDisabledComponents deletes the objects of the components c has
// turned off (the console): its Deployment, Service, PodDisruptionBudget
// and, for the console, its NetworkPolicy. Only objects the Community
// controls are deleted.
func (r *CommunityReconciler) removeDisabledComponents(ctx context.Context, c *kinshipv1alpha1.Community, in resources.Inputs) error {
	var errs []string
	for _, comp := range resources.Components() {
		if comp.Enabled(c) {
			continue
		}
		objs := resources.ComponentObjects(c, comp, in)
		if comp.SignsIn {
			objs = append(objs, resources.BuildConsolePolicy(c, in))
		}
		for _, o := range objs {
			if err := r.removeOwned(ctx, c, o); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// removeOwned deletes the object of obj's kind and name in the instance
// namespace when the Community controls it.
func (r *CommunityReconciler) removeOwned(ctx context.Context, c *kinshipv1alpha1.Community, obj client.Object) error {
	live := obj.DeepCopyObject().(client.Object)
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), live)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", obj.GetName(), err)
	}
	if !metav1.IsControlledBy(live, c) {
		return nil
	}
	if err := r.Client.Delete(ctx, live); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete %s: %w", obj.GetName(), err)
	}
	r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "Removed", "Reconcile", "%s %s/%s is no longer needed and was deleted",
		reflect.TypeOf(live).Elem().Name(), live.GetNamespace(), live.GetName())
	return nil
}

// checkTimeZone checks spec.insights.timeZone as the insights service
// will: a zone it cannot load would crash-loop its pods.
func checkTimeZone(c *kinshipv1alpha1.Community) error {
	tz := c.Spec.Insights.TimeZone
	if tz == "" {
		return nil
	}
	if _, err := time.LoadLocation(tz); err != nil || strings.EqualFold(tz, "local") {
		return fmt.Errorf("spec.insights.timeZone: %q is not an IANA time zone such as Europe/Berlin", tz)
	}
	return nil
}
