package resources

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// Workloads lists the objects of c's instance namespace that are built
// from the Community alone plus in, in the order they are applied: the
// service account and ConfigMap the pods need first, then per component a
// Deployment, a Service (components others call) and a PodDisruptionBudget, then
// the NetworkPolicy and the Ingress (when c has one). The namespace and the
// Secrets, which need more than the Community, have builders of their own.
func Workloads(c *kinshipv1alpha1.Community, in Inputs) []client.Object {
	objs := []client.Object{BuildServiceAccount(c), BuildConfigMap(c)}
	for _, comp := range Components() {
		objs = append(objs, BuildDeployment(c, comp, in))
		if comp.Service {
			objs = append(objs, BuildService(c, comp))
		}
		objs = append(objs, BuildPodDisruptionBudget(c, comp))
	}
	objs = append(objs, BuildNetworkPolicy(c, in))
	if ing := BuildIngress(c); ing != nil {
		objs = append(objs, ing)
	}
	return objs
}
