package controller

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// InstanceRole is the default name of the ClusterRole that holds what the
// operator may do inside an instance namespace. It grants nothing by
// itself: the operator binds it to itself, with a RoleBinding, in each
// instance namespace it creates (BuildRoleBinding), and only there.
const InstanceRole = "kinship-operator-instance"

// What the operator does inside an instance namespace: the kinds
// instanceKinds lists, and deleting what the spec no longer asks for —
// Secrets, the Ingress, and the Deployment, Service, PodDisruptionBudget
// and NetworkPolicy of a component turned off (the console). These
// markers generate the ClusterRole kinship-operator-instance; a test keeps
// them and instanceKinds alike.
//
// +kubebuilder:rbac:groups="",resources=secrets;services,verbs=get;list;watch;create;update;patch;delete,roleName=kinship-operator-instance
// +kubebuilder:rbac:groups="",resources=serviceaccounts;configmaps,verbs=get;list;watch;create;update;patch,roleName=kinship-operator-instance
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete,roleName=kinship-operator-instance
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete,roleName=kinship-operator-instance
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete,roleName=kinship-operator-instance
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;update;patch;delete,roleName=kinship-operator-instance
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=get;list;watch;update;patch,roleName=kinship-operator-instance

// instanceKinds are the kinds the operator keeps in every instance
// namespace, written once: each instance namespace's cache holds them, the
// controller watches them there (a deleted or edited object is restored at
// once), and the instance role grants them (a test checks the generated
// role against this list).
func instanceKinds() []client.Object {
	return []client.Object{
		&corev1.ServiceAccount{},
		&corev1.ConfigMap{},
		&corev1.Secret{},
		&corev1.Service{},
		&appsv1.Deployment{},
		&policyv1.PodDisruptionBudget{},
		&networkingv1.NetworkPolicy{},
		&networkingv1.Ingress{},
		&rbacv1.RoleBinding{},
	}
}
