package resources

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// Workloads lists the objects of c's instance namespace that are built
// from the Community alone plus in, in the order they are applied: the
// service account and ConfigMap the pods need first, then per component c
// runs a Deployment, a Service (components others call) and a
// PodDisruptionBudget, then the NetworkPolicies (the console's with the
// console) and the Ingress (when c has one). The namespace and the
// Secrets, which need more than the Community, have builders of their own.
func Workloads(c *kinshipv1alpha1.Community, in Inputs) []client.Object {
	objs := []client.Object{BuildServiceAccount(c), BuildConfigMap(c)}
	for _, comp := range EnabledComponents(c) {
		objs = append(objs, ComponentObjects(c, comp, in)...)
	}
	objs = append(objs, BuildNetworkPolicy(c, in), BuildWebhookPolicy(c))
	if c.Spec.Console.IsEnabled() {
		objs = append(objs, BuildConsolePolicy(c, in))
	}
	if ing := BuildIngress(c); ing != nil {
		objs = append(objs, ing)
	}
	return objs
}

// ComponentObjects are the objects of one component: its Deployment, its
// Service (components others call) and its PodDisruptionBudget.
func ComponentObjects(c *kinshipv1alpha1.Community, comp Component, in Inputs) []client.Object {
	objs := []client.Object{BuildDeployment(c, comp, in)}
	if comp.Service {
		objs = append(objs, BuildService(c, comp))
	}
	return append(objs, BuildPodDisruptionBudget(c, comp))
}
