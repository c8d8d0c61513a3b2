package registry

import (
	"context"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
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

	// Subresources this resource serves: any of "status", "scale", "binding", "log", "exec",
	// "attach", "portforward", "proxy", "eviction", "finalize".
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
	// RequireResourceVersion refuses a replace without a resourceVersion.
	RequireResourceVersion bool
	// ValidateStatusUpdate checks an update of the status subresource.
	ValidateStatusUpdate func(obj, old runtime.Object) field.ErrorList
	// ResetFields and StatusResetFields are the fields a write of the main resource, or of its
	// status, cannot set (see Strategy): managed fields record no owner for them.
	ResetFields, StatusResetFields []fieldpath.Path

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

	// GracePeriod, for kinds deleted gracefully, returns the grace period of a delete and
	// whether the object must wait for it (see DeleteStrategy).
	GracePeriod func(obj runtime.Object, opts *metav1.DeleteOptions) (int64, bool)
	// MarkDeleting changes an object marked for deletion (a namespace becomes Terminating).
	MarkDeleting func(obj runtime.Object)
	// HoldsDeletion reports whether an object marked for deletion must stay although it has no
	// finalizers left (a namespace with spec.finalizers).
	HoldsDeletion func(obj runtime.Object) bool
	// CheckPreconditions replaces the generic check of a delete's preconditions.
	CheckPreconditions func(obj runtime.Object, p *metav1.Preconditions) error
	// ReturnDeleted answers a delete that removed the object with the object.
	ReturnDeleted bool
	// AdmitDelete refuses a delete before anything changes.
	AdmitDelete func(obj runtime.Object) error

	// NoQuota exempts creates from ResourceQuota admission.
	NoQuota bool
	// Allocate assigns an object's cluster-unique values (old is nil on create), given those
	// every other object of the resource Claims.
	Allocate func(obj, old runtime.Object, taken Claims, pools Pools) error
	Claims   func(obj runtime.Object) Claims
	// Terminating is set on the namespace resource only: whether a namespace takes no content.
	Terminating func(obj runtime.Object) bool
	// Charge is set on the quota resource only: it admits obj against one quota (see Admission).
	Charge func(quota, obj runtime.Object) (bool, error)

	// Actions are subresources that change the stored object from a request body.
	Actions map[string]Action
	// Review answers a create without storing anything (see Kind.Review).
	Review func(obj runtime.Object, user UserInfo) error
	// ProxyTarget returns the host:port the proxy subresource forwards to.
	ProxyTarget func(obj runtime.Object, port string, get Getter) (string, error)
	// Live computes the objects of a kind that is not stored (see Kind.Live).
	Live func(ctx context.Context, src LiveSource, namespace, name string) ([]runtime.Object, error)
}

// Stored reports whether objects of the resource are kept in storage (review kinds are not).
func (r *Resource) Stored() bool { return r.Review == nil && r.Live == nil }

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
