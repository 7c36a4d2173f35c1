package resources

import (
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// BuildService builds the ClusterIP Service of a component other
// components call or the Ingress routes to. The console's keeps each
// client on one pod (sessions live in a replica's memory), for clients
// that reach it through the Service; ingress controllers that send
// traffic to the pods directly need stickiness of their own.
func BuildService(c *kinshipv1alpha1.Community, comp Component) *corev1.Service {
	affinity := corev1.ServiceAffinityNone
	if comp.SignsIn {
		affinity = corev1.ServiceAffinityClientIP
	}
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(c, comp.Name, comp.Name),
		Spec: corev1.ServiceSpec{
			Type:            corev1.ServiceTypeClusterIP,
			SessionAffinity: affinity,
			Selector:        SelectorLabels(c, comp.Name),
			Ports: []corev1.ServicePort{{
				Name:        portName,
				Port:        comp.Port,
				TargetPort:  intstr.FromString(portName),
				Protocol:    corev1.ProtocolTCP,
				AppProtocol: ptr.To("http"),
			}},
		},
	}
}

// BuildPodDisruptionBudget keeps all but one of a component's pods running
// through voluntary disruptions such as node drains.
func BuildPodDisruptionBudget(c *kinshipv1alpha1.Community, comp Component) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: objectMeta(c, comp.Name, comp.Name),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable:             ptr.To(intstr.FromInt32(1)),
			Selector:                   &metav1.LabelSelector{MatchLabels: SelectorLabels(c, comp.Name)},
			UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow),
		},
	}
}
