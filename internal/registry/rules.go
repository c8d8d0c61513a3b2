package registry

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// object is what every served type is: a runtime.Object with ObjectMeta.
type object interface {
	runtime.Object
	metav1.Object
}

// attach sets r's rule fields. Nil functions stay nil, except the update hooks: every update of
// the main resource or of status is also checked for the immutable metadata fields (name,
// namespace, uid, ...). The system metadata itself (uid, creationTimestamp, generation, ...) is
// set by the API server with StampCreate and BeforeUpdate around these.
func (k Strategy[T]) attach(r *Resource) {
	if k.Default != nil {
		r.Default = func(obj runtime.Object) {
			if o, ok := obj.(T); ok {
				k.Default(o)
			}
		}
	}
	if k.PrepareCreate != nil {
		r.PrepareForCreate = func(obj runtime.Object) {
			if o, ok := obj.(T); ok {
				k.PrepareCreate(o)
			}
		}
	}
	r.RequireResourceVersion = k.RequireResourceVersion
	r.ResetFields, r.StatusResetFields = k.ResetFields, k.StatusResetFields
	r.PrepareForUpdate = preparer(k.PrepareUpdate)
	r.PrepareForStatusUpdate = preparer(k.PrepareStatus)
	if k.Validate != nil {
		r.Validate = func(obj runtime.Object) field.ErrorList {
			o, ok := obj.(T)
			if !ok {
				return field.ErrorList{wrongType(obj)}
			}
			return k.Validate(o)
		}
	}
	r.ValidateUpdate = updateValidator(k.ValidateUpdate)
	r.ValidateStatusUpdate = updateValidator(k.ValidateStatus)
}

// withStatusResets gives the strategy of a kind with a status subresource upstream's reset
// fields: a write of the main resource does not set status; one of status does not set spec,
// nor the extra fields its status preparation keeps from the stored object.
func withStatusResets[T object](s Strategy[T], extra ...fieldpath.Path) Strategy[T] {
	s.ResetFields = []fieldpath.Path{fieldpath.MakePathOrDie("status")}
	s.StatusResetFields = append([]fieldpath.Path{fieldpath.MakePathOrDie("spec")}, extra...)
	return s
}

// preparer adapts a kind's typed update preparation.
func preparer[T object](prepare func(obj, old T)) func(obj, old runtime.Object) {
	return func(obj, old runtime.Object) {
		o, ok1 := obj.(T)
		p, ok2 := old.(T)
		if ok1 && ok2 && prepare != nil {
			prepare(o, p)
		}
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
