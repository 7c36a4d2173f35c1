package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// The console runs behind the Community's Ingress at /, with its client
// secret copied from the Secret the spec names (the Community waits for
// it), and can be turned off — which removes everything of it — and on
// again.
func TestTheConsoleRunsBehindTheIngressAndCanBeTurnedOff(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "console")
	f.community.Spec.Ingress = &kinshipv1alpha1.IngressSpec{Host: "console.example.org", TLSSecretName: "console-tls"}
	f.community.Spec.Console.ClientSecret = &kinshipv1alpha1.ConsoleClientSecret{SecretRef: kinshipv1alpha1.SecretReference{Name: "console-oidc"}}
	f.create(t)
	f.cleanup(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionWorkloadsReady, metav1.ConditionFalse, "ConsoleSecretUnavailable")

	oidc := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: secretsNamespace, Name: "console-oidc"},
		StringData: map[string]string{"client-secret": "s3cr3t-of-the-console"}}
	if err := env.k8s.Create(ctx, oidc); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.k8s.Delete(ctx, oidc) })
	f.nudge(t)
	f.waitReady(t)

	var d appsv1.Deployment
	if err := f.object(t, "console", &d); err != nil {
		t.Fatal(err)
	}
	vars := containerEnv(&d)
	if vars["KINSHIP_CONSOLE_PUBLIC_URL"] != "https://console.example.org" || vars["KINSHIP_CONSOLE_CLIENT_SECRET_FILE"] == "" || *d.Spec.Replicas != 1 {
		t.Errorf("console: %d replicas, env %v", *d.Spec.Replicas, vars)
	}
	var copied corev1.Secret
	if err := f.object(t, "console-console", &copied); err != nil || string(copied.Data["client-secret"]) != "s3cr3t-of-the-console" {
		t.Errorf("the client secret's copy: %v %v", copied.Data, err)
	}
	var svc corev1.Service
	if err := f.object(t, "console", &svc); err != nil || svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		t.Errorf("console Service: %+v %v", svc.Spec, err)
	}
	if routes := f.routes(t); routes["/"] != "console" || routes["/kinship.insights.v1.GoalsService"] != "insights" {
		t.Errorf("routes: %v", routes)
	}
	if !f.hasComponent(t, "console") {
		t.Error("status.components lacks the console")
	}

	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Console.Enabled = ptr.To(false) })
	f.waitReady(t)
	eventually(t, 20*time.Second, func() error {
		for name, obj := range map[string]client.Object{
			"console": &appsv1.Deployment{}, "console ": &corev1.Service{}, " console": &policyv1.PodDisruptionBudget{},
			"kinship-console": &networkingv1.NetworkPolicy{}, "console-console": &corev1.Secret{},
		} {
			if err := f.object(t, strings.TrimSpace(name), obj); !apierrors.IsNotFound(err) {
				return fmt.Errorf("%T %s is still there (%v)", obj, name, err)
			}
		}
		if _, ok := f.routes(t)["/"]; ok {
			return fmt.Errorf("/ is still routed")
		}
		if f.hasComponent(t, "console") {
			return fmt.Errorf("status.components still lists the console")
		}
		return nil
	})
	if err := f.object(t, "members", &appsv1.Deployment{}); err != nil {
		t.Errorf("turning the console off took the members service with it: %v", err)
	}

	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Console.Enabled = ptr.To(true) })
	f.waitReady(t)
	if err := f.object(t, "console", &appsv1.Deployment{}); err != nil {
		t.Errorf("the console is not back: %v", err)
	}
}

// routes returns the Ingress's paths and the Service each goes to.
func (f *fixture) routes(t testing.TB) map[string]string {
	t.Helper()
	var ing networkingv1.Ingress
	if err := f.object(t, "kinship", &ing); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range ing.Spec.Rules[0].HTTP.Paths {
		out[p.Path] = p.Backend.Service.Name
	}
	return out
}

func (f *fixture) hasComponent(t testing.TB, name string) bool {
	t.Helper()
	for _, cs := range f.get(t).Status.Components {
		if cs.Name == name {
			return true
		}
	}
	return false
}
