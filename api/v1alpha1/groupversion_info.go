// Package v1alpha1 contains the API of the memory operator: the MemoryServer
// kind of the mcp.memory.dev group.
// +kubebuilder:object:generate=true
// +groupName=mcp.memory.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the objects of this package.
	GroupVersion = schema.GroupVersion{Group: "mcp.memory.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a scheme. It
	// is apimachinery's (this package imports no controller-runtime).
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers MemoryServer and MemoryServerList under
// GroupVersion.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &MemoryServer{}, &MemoryServerList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
