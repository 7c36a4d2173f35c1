package controller

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// apply makes the object in the cluster match desired and returns it as
// the cluster has it. It reads from the cache and writes only when
// something differs: a missing object is created, a drifted one updated.
// What the API server fills in (defaults, cluster IPs, status) and labels
// or annotations others add are not drift.
func (r *CommunityReconciler) apply(ctx context.Context, c *kinshipv1alpha1.Community, desired client.Object) (client.Object, error) {
	key := client.ObjectKeyFromObject(desired)
	kind := reflect.TypeOf(desired).Elem().Name()
	live := desired.DeepCopyObject().(client.Object)
	err := r.Client.Get(ctx, key, live)
	if apierrors.IsNotFound(err) {
		created := desired.DeepCopyObject().(client.Object)
		err = r.Client.Create(ctx, created)
		if err == nil {
			return created, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create %s %s: %w", kind, key, err)
		}
		// The cache has not seen it yet: compare with the API server's copy.
		err = r.APIReader.Get(ctx, key, live)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", kind, key, err)
	}
	if upToDate(desired, live) {
		return live, nil
	}
	if err := mayTakeOver(c, live); err != nil {
		if ns, ok := live.(*corev1.Namespace); ok && ns.Status.Phase == corev1.NamespaceTerminating {
			return live, nil // the caller waits for it to go
		}
		return nil, fmt.Errorf("%s %s: %w", kind, key, err)
	}
	for attempt := 0; ; attempt++ {
		merge(live, desired)
		err = r.Client.Update(ctx, live)
		if err == nil {
			r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "Updated", "Reconcile", "%s %s updated to match the spec", kind, key)
			return live, nil
		}
		if !apierrors.IsConflict(err) || attempt > 0 {
			return nil, fmt.Errorf("update %s %s: %w", kind, key, err)
		}
		// Our cached copy was stale; compare with the API server's.
		if err := r.APIReader.Get(ctx, key, live); err != nil {
			return nil, fmt.Errorf("read %s %s: %w", kind, key, err)
		}
		if upToDate(desired, live) {
			return live, nil
		}
	}
}

// errNotOwned marks an object apply will not take over.
var errNotOwned = errors.New("it exists and does not belong to this Community; the operator does not take it over")

// mayTakeOver reports whether apply may write over live: never when
// another owner controls it, and a namespace only when the Community
// controls it — the operator binds its role in the namespaces it created,
// never in one that was there before (another team's, or its own).
func mayTakeOver(c *kinshipv1alpha1.Community, live client.Object) error {
	owner := metav1.GetControllerOf(live)
	if owner != nil && owner.UID == c.UID {
		return nil
	}
	if _, isNS := live.(*corev1.Namespace); isNS || owner != nil {
		return errNotOwned
	}
	return nil
}

// upToDate reports whether live already is what desired asks for.
func upToDate(desired, live client.Object) bool {
	return subset(desired.GetLabels(), live.GetLabels()) &&
		subset(desired.GetAnnotations(), live.GetAnnotations()) &&
		derived(reflect.ValueOf(desired.GetOwnerReferences()), reflect.ValueOf(live.GetOwnerReferences())) &&
		derived(reflect.ValueOf(content(desired)), reflect.ValueOf(content(live)))
}

// merge writes desired's labels, annotations, owners and content into live,
// keeping what others added to the metadata.
func merge(live, desired client.Object) {
	live.SetLabels(union(live.GetLabels(), desired.GetLabels()))
	live.SetAnnotations(union(live.GetAnnotations(), desired.GetAnnotations()))
	live.SetOwnerReferences(desired.GetOwnerReferences())
	switch l := live.(type) {
	case *corev1.Namespace:
	case *corev1.ServiceAccount:
		l.AutomountServiceAccountToken = desired.(*corev1.ServiceAccount).AutomountServiceAccountToken
	case *corev1.ConfigMap:
		l.Data = desired.(*corev1.ConfigMap).Data
	case *corev1.Secret:
		l.Data = desired.(*corev1.Secret).Data
	case *corev1.Service:
		d := desired.(*corev1.Service)
		l.Spec.Type, l.Spec.Selector, l.Spec.Ports, l.Spec.SessionAffinity = d.Spec.Type, d.Spec.Selector, d.Spec.Ports, d.Spec.SessionAffinity
		if d.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
			l.Spec.SessionAffinityConfig = nil // the API server refuses it without ClientIP
		}
	case *appsv1.Deployment:
		l.Spec = desired.(*appsv1.Deployment).Spec
	case *policyv1.PodDisruptionBudget:
		l.Spec = desired.(*policyv1.PodDisruptionBudget).Spec
	case *networkingv1.NetworkPolicy:
		l.Spec = desired.(*networkingv1.NetworkPolicy).Spec
	case *networkingv1.Ingress:
		l.Spec = desired.(*networkingv1.Ingress).Spec
	case *rbacv1.RoleBinding:
		// The role it binds cannot change; the subjects can.
		l.Subjects = desired.(*rbacv1.RoleBinding).Subjects
	default:
		panic(fmt.Sprintf("controller: apply does not know %T", live))
	}
}

// content is the part of an object the operator owns beyond its metadata.
func content(o client.Object) any {
	switch o := o.(type) {
	case *corev1.Namespace:
		return struct{}{}
	case *corev1.ServiceAccount:
		return o.AutomountServiceAccountToken
	case *corev1.ConfigMap:
		return o.Data
	case *corev1.Secret:
		return o.Data
	case *corev1.Service:
		return corev1.ServiceSpec{Type: o.Spec.Type, Selector: o.Spec.Selector, Ports: o.Spec.Ports, SessionAffinity: o.Spec.SessionAffinity}
	case *appsv1.Deployment:
		return o.Spec
	case *policyv1.PodDisruptionBudget:
		return o.Spec
	case *networkingv1.NetworkPolicy:
		return o.Spec
	case *networkingv1.Ingress:
		return o.Spec
	case *rbacv1.RoleBinding:
		return o.Subjects // its roleRef cannot change: reconcileAccess checks it
	}
	panic(fmt.Sprintf("controller: apply does not know %T", o))
}

func subset(want, have map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

func union(base, over map[string]string) map[string]string {
	if len(base) == 0 && len(over) == 0 {
		return nil
	}
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// derived reports whether have is want with, at most, what the API server
// defaults filled in: zero strings, nil pointers and empty lists or maps in
// want are "not set" and match anything. Unlike
// equality.Semantic.DeepDerivative, set lists and maps must match
// exactly, so an added container, environment variable or resource limit
// is drift too.
func derived(want, have reflect.Value) bool {
	if !want.IsValid() || !have.IsValid() {
		return want.IsValid() == have.IsValid()
	}
	if want.Type() != have.Type() {
		return false
	}
	if eq, ok := equality.Semantic.Equalities[want.Type()]; ok {
		return eq.Call([]reflect.Value{want, have})[0].Bool()
	}
	switch want.Kind() {
	case reflect.Pointer, reflect.Interface:
		if want.IsNil() {
			return true
		}
		if have.IsNil() {
			return false
		}
		return derived(want.Elem(), have.Elem())
	case reflect.Struct:
		for i := range want.NumField() {
			if !want.Type().Field(i).IsExported() {
				continue
			}
			if !derived(want.Field(i), have.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if want.Len() == 0 {
			return true
		}
		if want.Len() != have.Len() {
			return false
		}
		for i := range want.Len() {
			if !derived(want.Index(i), have.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if want.Len() == 0 {
			return true
		}
		if want.Len() != have.Len() {
			return false
		}
		for _, k := range want.MapKeys() {
			hv := have.MapIndex(k)
			if !hv.IsValid() || !derived(want.MapIndex(k), hv) {
				return false
			}
		}
		return true
	case reflect.String:
		return want.Len() == 0 || want.String() == have.String()
	default:
		return reflect.DeepEqual(want.Interface(), have.Interface())
	}
}
