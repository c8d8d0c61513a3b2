package registry

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// withRules attaches defaulting, validation and update rules to r, chosen by its group and resource.
// Resources skiff does not know keep nil rules ("nothing to do").
func withRules(r *Resource) {
	switch r.GVR.GroupResource() {
	case schema.GroupResource{Resource: "namespaces"}:
		namespaceRules().attach(r)
	case schema.GroupResource{Resource: "pods"}:
		podRules().attach(r)
	case schema.GroupResource{Resource: "services"}:
		serviceRules().attach(r)
	case schema.GroupResource{Resource: "endpoints"}:
		endpointsRules().attach(r)
	case schema.GroupResource{Resource: "events"}:
		eventRules().attach(r)
	case schema.GroupResource{Resource: "nodes"}:
		nodeRules().attach(r)
	case schema.GroupResource{Resource: "replicationcontrollers"}:
		replicationControllerRules().attach(r)
	case schema.GroupResource{Resource: "configmaps"}:
		configMapRules().attach(r)
	case schema.GroupResource{Resource: "secrets"}:
		secretRules().attach(r)
	case schema.GroupResource{Resource: "resourcequotas"}:
		resourceQuotaRules().attach(r)
	case schema.GroupResource{Resource: "serviceaccounts"}:
		serviceAccountRules().attach(r)
	case schema.GroupResource{Group: "apps", Resource: "deployments"}:
		deploymentRules().attach(r)
		r.Versions = append(r.Versions, deploymentV1beta1())
	case schema.GroupResource{Group: "apps", Resource: "replicasets"}:
		replicaSetRules().attach(r)
	case schema.GroupResource{Group: "apps", Resource: "controllerrevisions"}:
		controllerRevisionRules().attach(r)
	case schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}:
		endpointSliceRules().attach(r)
	case schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}:
		leaseRules().attach(r)
	}
}

// object is what every served type is: a runtime.Object with ObjectMeta.
type object interface {
	runtime.Object
	metav1.Object
}

// kindRules are the typed rules of one kind; attach adapts them to a Resource's untyped fields.
// Nil functions stay nil on the Resource, except the update hooks, which always carry the
// metadata rules every upstream strategy shares (see attach).
type kindRules[T object] struct {
	defaults       func(T)
	prepareCreate  func(T)
	prepareUpdate  func(obj, old T)
	prepareStatus  func(obj, old T)
	validate       func(T) field.ErrorList
	validateUpdate func(obj, old T) field.ErrorList
	validateStatus func(obj, old T) field.ErrorList
}

// attach sets r's rule fields. Like upstream's generic registry (rest.BeforeUpdate), every update
// of the main resource or of status first takes metadata.generation from the stored object (clients
// cannot set it; the kind's prepare step may bump it), and afterwards keeps the stored uid,
// creationTimestamp, deletionTimestamp and deletionGracePeriodSeconds when the request dropped them.
// Every update is also checked for the immutable metadata fields (name, namespace, uid, ...).
func (k kindRules[T]) attach(r *Resource) {
	if k.defaults != nil {
		r.Default = func(obj runtime.Object) {
			if o, ok := obj.(T); ok {
				k.defaults(o)
			}
		}
	}
	if k.prepareCreate != nil {
		r.PrepareForCreate = func(obj runtime.Object) {
			if o, ok := obj.(T); ok {
				k.prepareCreate(o)
			}
		}
	}
	r.PrepareForUpdate = preparer(k.prepareUpdate)
	r.PrepareForStatusUpdate = preparer(k.prepareStatus)
	if k.validate != nil {
		r.Validate = func(obj runtime.Object) field.ErrorList {
			o, ok := obj.(T)
			if !ok {
				return field.ErrorList{wrongType(obj)}
			}
			return k.validate(o)
		}
	}
	r.ValidateUpdate = updateValidator(k.validateUpdate)
	r.ValidateStatusUpdate = updateValidator(k.validateStatus)
}

// preparer wraps an update preparation with the generic metadata handling described on attach.
func preparer[T object](prepare func(obj, old T)) func(obj, old runtime.Object) {
	return func(obj, old runtime.Object) {
		o, ok1 := obj.(T)
		p, ok2 := old.(T)
		if !ok1 || !ok2 {
			return
		}
		o.SetGeneration(p.GetGeneration())
		if prepare != nil {
			prepare(o, p)
		}
		keepSystemMetadata(o, p)
	}
}

// updateValidator wraps a kind's update validation with the immutable-metadata checks.
func updateValidator[T object](validate func(obj, old T) field.ErrorList) func(obj, old runtime.Object) field.ErrorList {
	return func(obj, old runtime.Object) field.ErrorList {
		o, ok := obj.(T)
		if !ok {
			return field.ErrorList{wrongType(obj)}
		}
		p, ok := old.(T)
		if !ok {
			return field.ErrorList{wrongType(old)}
		}
		errs := validateMetaUpdate(o, p)
		if validate != nil {
			errs = append(errs, validate(o, p)...)
		}
		return errs
	}
}
