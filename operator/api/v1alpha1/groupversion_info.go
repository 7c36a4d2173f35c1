// Package v1alpha1 contains the kinship.dev/v1alpha1 API: the Community
// resource, from which the operator provisions an isolated Kinship instance.
//
// +kubebuilder:object:generate=true
// +groupName=kinship.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the group and version of this API.
var GroupVersion = schema.GroupVersion{Group: "kinship.dev", Version: "v1alpha1"}

// AddToScheme registers this API's types in a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Community{}, &CommunityList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
