package chart

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Every pod the chart can start — the operator's and the `helm test`
// Pod — is created (dry run) in a namespace that enforces Pod Security
// "restricted", so the API server's own PodSecurity admission judges it.
func TestRenderedPodsMeetPodSecurityRestricted(t *testing.T) {
	ensureNamespace(t)
	t.Run("a pod without a security context is refused", func(t *testing.T) {
		bare := corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.org/c:1"}}}
		err := dryRunCreatePod(t, "bare", bare)
		if err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
			t.Fatalf("error %v, want a PodSecurity refusal: the check below would prove nothing", err)
		}
	})
	for name, args := range renderings(t) {
		t.Run(name, func(t *testing.T) {
			checked := 0
			for _, o := range render(t, args...) {
				spec, ok := podSpec(t, o)
				if !ok {
					continue
				}
				checked++
				if err := dryRunCreatePod(t, strings.ToLower(o.GetKind())+"-"+o.GetName(), spec); err != nil {
					t.Errorf("pod of %s %s: %v", o.GetKind(), o.GetName(), err)
				}
			}
			if checked < 2 {
				t.Errorf("checked %d pods, want the operator's and the test's", checked)
			}
		})
	}
}

// podSpec returns the pod spec an object runs, if it runs one.
func podSpec(t testing.TB, o *unstructured.Unstructured) (corev1.PodSpec, bool) {
	t.Helper()
	var path []string
	switch o.GetKind() {
	case "Pod":
		path = []string{"spec"}
	case "Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet":
		path = []string{"spec", "template", "spec"}
	case "CronJob":
		path = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	default:
		return corev1.PodSpec{}, false
	}
	raw, found, err := unstructured.NestedMap(o.Object, path...)
	if err != nil || !found {
		t.Fatalf("%s %s has no pod spec at %v: %v", o.GetKind(), o.GetName(), path, err)
	}
	var spec corev1.PodSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(raw, &spec, true); err != nil {
		t.Fatalf("%s %s: pod spec: %v", o.GetKind(), o.GetName(), err)
	}
	return spec, true
}

func dryRunCreatePod(t testing.TB, name string, spec corev1.PodSpec) error {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Spec: spec}
	return cluster.k8s.Create(ctx(t), pod, client.DryRunAll)
}
