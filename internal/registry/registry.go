// Package registry describes every resource skiff serves: its names, its Go types, and the rules
// the API server applies to it — defaulting, validation, update rules (spec vs status, immutable
// fields, generation bumps), table columns for kubectl get, and the fields a field selector can use.
//
// One file per kind; All lists them. The API server is generic over Resource.
package registry

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Resource is one served resource at its storage version (e.g. apps/v1 deployments).
// Function fields may be nil, meaning "nothing to do".
type Resource struct {
	GVR          schema.GroupVersionResource
	Kind         string // "Deployment"
	ListKind     string // "DeploymentList"
	SingularName string // "deployment"
	Namespaced   bool
	ShortNames   []string
	Categories   []string // "all" for the kubectl get all category
	// Verbs served on the main resource, as discovery lists them.
	Verbs []string

	New     func() runtime.Object
	NewList func() runtime.Object

	// Subresources this resource serves: any of "status", "scale", "binding", "log", "proxy".
	Subresources []string

	// Default fills defaults exactly as upstream's SetDefaults_* for this group/version do,
	// including nested pod template defaults.
	Default func(obj runtime.Object)
	// PrepareForCreate runs before validation on create: clears status where upstream does,
	// sets generation to 1, etc.
	PrepareForCreate func(obj runtime.Object)
	// PrepareForUpdate runs before validation on an update of the main resource: keeps status
	// from old, bumps metadata.generation when spec changed (for Deployments, also annotations).
	PrepareForUpdate func(obj, old runtime.Object)
	// PrepareForStatusUpdate runs on an update of the status subresource: keeps everything but
	// status from old (labels, annotations, spec).
	PrepareForStatusUpdate func(obj, old runtime.Object)
	// Validate checks a new object; errors name the field (upstream messages).
	Validate func(obj runtime.Object) field.ErrorList
	// ValidateUpdate checks an update (immutable fields, e.g. apps/v1 selectors).
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
	// ValidateStatusUpdate checks an update of the status subresource.
	ValidateStatusUpdate func(obj, old runtime.Object) field.ErrorList

	// Columns are the table columns kubectl get prints (priority 1 = -o wide only).
	Columns []metav1.TableColumnDefinition
	// Row returns one table row's cells, matching Columns, for obj.
	Row func(obj runtime.Object) []interface{}

	// Fields returns the field-selector fields of obj beyond metadata.name and
	// metadata.namespace (which the server adds), e.g. spec.nodeName and status.phase for pods.
	Fields func(obj runtime.Object) fields.Set

	// Scale, for resources with the scale subresource: GetScale reads it from obj and
	// SetReplicas writes spec.replicas.
	GetScale    func(obj runtime.Object) *autoscalingv1.Scale
	SetReplicas func(obj runtime.Object, replicas int32)

	// Versions are other group-versions this resource is also served at (e.g. apps/v1beta1
	// Deployment), each with conversions to and from the storage type.
	Versions []AltVersion
}

// AltVersion is an extra version a resource is served at; objects are stored at the Resource's
// own version and converted on the way in and out.
type AltVersion struct {
	GroupVersion schema.GroupVersion
	New          func() runtime.Object
	NewList      func() runtime.Object
	// Default applies this version's own defaults (before ToStorage).
	Default   func(obj runtime.Object)
	ToStorage func(obj runtime.Object) (runtime.Object, error)
	// FromStorage converts a storage object (or list) to this version.
	FromStorage func(obj runtime.Object) (runtime.Object, error)
}
