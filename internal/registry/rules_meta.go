package registry

import (
	"fmt"
	"strings"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// metaPath is the path of every object's metadata in error messages.
func metaPath() *field.Path { return field.NewPath("metadata") }

// standardFinalizers are the finalizer names that need no domain prefix
// (upstream helper.IsStandardFinalizerName).
var standardFinalizers = map[string]bool{
	"kubernetes":                     true,
	metav1.FinalizerOrphanDependents: true,
	metav1.FinalizerDeleteDependents: true,
}

// validateMeta checks an object's metadata on create the way upstream's core ValidateObjectMeta does:
// name (or generateName prefix) per nameFn, namespace required or forbidden, labels, annotations,
// owner references and finalizers (which must be standard or domain-qualified).
func validateMeta(m metav1.Object, namespaced bool, nameFn apivalidation.ValidateNameFunc) field.ErrorList {
	errs := apivalidation.ValidateObjectMetaAccessor(m, namespaced, nameFn, metaPath())
	errs = append(errs, validateKubeFinalizers(m.GetFinalizers(), metaPath().Child("finalizers"))...)
	return errs
}

// validateKubeFinalizers rejects unqualified finalizer names that Kubernetes does not define.
func validateKubeFinalizers(finalizers []string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, f := range finalizers {
		if !knownOrQualifiedFinalizer(f) {
			errs = append(errs, field.Invalid(fldPath.Index(i), f, unknownFinalizerMsg))
		}
	}
	return errs
}

const unknownFinalizerMsg = "name is neither a standard finalizer name nor is it fully qualified"

// knownOrQualifiedFinalizer: a finalizer Kubernetes defines, or one with a domain prefix.
func knownOrQualifiedFinalizer(f string) bool {
	return strings.Contains(f, "/") || standardFinalizers[f]
}

// validateMetaUpdate is the part of upstream's ValidateObjectMetaUpdate that only an update can
// break: immutable identity fields, resourceVersion, generation, finalizers while deleting. Labels,
// annotations and owner references are checked by Validate (or by the kind's status validation).
func validateMetaUpdate(m, old metav1.Object) field.ErrorList {
	var errs field.ErrorList
	if old.GetDeletionTimestamp() != nil {
		errs = append(errs, apivalidation.ValidateNoNewFinalizers(m.GetFinalizers(), old.GetFinalizers(), metaPath().Child("finalizers"))...)
	}
	if m.GetResourceVersion() == "" {
		errs = append(errs, field.Invalid(metaPath().Child("resourceVersion"), m.GetResourceVersion(), "must be specified for an update"))
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(m.GetGeneration(), metaPath().Child("generation"))...)
	if m.GetGeneration() < old.GetGeneration() {
		errs = append(errs, field.Invalid(metaPath().Child("generation"), m.GetGeneration(), "must not be decremented"))
	}
	errs = append(errs, apivalidation.ValidateImmutableField(m.GetName(), old.GetName(), metaPath().Child("name"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(m.GetNamespace(), old.GetNamespace(), metaPath().Child("namespace"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(m.GetUID(), old.GetUID(), metaPath().Child("uid"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(m.GetCreationTimestamp(), old.GetCreationTimestamp(), metaPath().Child("creationTimestamp"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(m.GetDeletionTimestamp(), old.GetDeletionTimestamp(), metaPath().Child("deletionTimestamp"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(m.GetDeletionGracePeriodSeconds(), old.GetDeletionGracePeriodSeconds(), metaPath().Child("deletionGracePeriodSeconds"))...)
	return errs
}

// validateMetaMutable checks the metadata a status update may still change (labels, annotations,
// owner references, finalizers); the immutable parts are checked by validateMetaUpdate.
func validateMetaMutable(m metav1.Object) field.ErrorList {
	errs := metav1validation.ValidateLabels(m.GetLabels(), metaPath().Child("labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(m.GetAnnotations(), metaPath().Child("annotations"))...)
	errs = append(errs, apivalidation.ValidateOwnerReferences(m.GetOwnerReferences(), metaPath().Child("ownerReferences"))...)
	errs = append(errs, apivalidation.ValidateFinalizers(m.GetFinalizers(), metaPath().Child("finalizers"))...)
	return errs
}

// StampCreate sets the system metadata of an object about to be created, as upstream's
// rest.FillObjectMetaSystemFields and BeforeCreate do: a new uid and the creation time, and no
// resourceVersion, deletion marks or selfLink a client may have sent. The managed fields are
// the API server's field manager's, set before. The kind's PrepareForCreate sets the first
// generation of kinds that have one.
func StampCreate(m metav1.Object, uid types.UID, now metav1.Time) {
	m.SetUID(uid)
	m.SetCreationTimestamp(now)
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetSelfLink("")
}

// BeforeUpdate runs the kind's update preparation (prepare) inside the system metadata of an
// update of the stored object old, as upstream's rest.BeforeUpdate does: generation comes from
// old before prepare (which may bump it); after it, uid and creationTimestamp come from old
// whatever the request or prepare did (the managed fields are the field manager's, set before),
// and so do the deletion marks, which are
// the server's: a client cannot set or change them, and once set they stay as stored. The
// resourceVersion is the API server's precondition to settle. The server's own changes (a
// delete being recorded, a binding) start from a copy of the stored object and do not come here.
func BeforeUpdate(m, old metav1.Object, prepare func()) {
	m.SetGeneration(old.GetGeneration())
	prepare()
	m.SetUID(old.GetUID())
	m.SetCreationTimestamp(old.GetCreationTimestamp())
	m.SetSelfLink("")
	if old.GetDeletionTimestamp() != nil {
		m.SetDeletionTimestamp(old.GetDeletionTimestamp())
		m.SetDeletionGracePeriodSeconds(old.GetDeletionGracePeriodSeconds())
	} else {
		m.SetDeletionTimestamp(nil)
		m.SetDeletionGracePeriodSeconds(nil)
	}
}

// wrongType reports an object of an unexpected Go type, a programming error in the caller.
func wrongType(obj runtime.Object) *field.Error {
	return field.InternalError(field.NewPath(""), fmt.Errorf("registry: unexpected object type %T", obj))
}
