package registry

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Rules of the small kinds: ServiceAccount, ControllerRevision and Lease.

// serviceAccountKind is core/v1 ServiceAccount (pkg/registry/core/serviceaccount).
func serviceAccountKind() Kind[*corev1.ServiceAccount] {
	return Kind[*corev1.ServiceAccount]{
		GVR: core("serviceaccounts"), Kind: "ServiceAccount", Namespaced: true, ShortNames: []string{"sa"},
		Verbs:    verbsAll,
		New:      func() *corev1.ServiceAccount { return &corev1.ServiceAccount{} },
		NewList:  func() runtime.Object { return &corev1.ServiceAccountList{} },
		Strategy: serviceAccountRules(),
		Table:    serviceAccountPrinter(),
		Delete:   DeleteStrategy[*corev1.ServiceAccount]{ReturnDeleted: true},
	}
}

// controllerRevisionKind is apps/v1 ControllerRevision (pkg/registry/apps/controllerrevision).
func controllerRevisionKind() Kind[*appsv1.ControllerRevision] {
	return Kind[*appsv1.ControllerRevision]{
		GVR: apps("controllerrevisions"), Kind: "ControllerRevision", Namespaced: true,
		Verbs:    verbsAll,
		New:      func() *appsv1.ControllerRevision { return &appsv1.ControllerRevision{} },
		NewList:  func() runtime.Object { return &appsv1.ControllerRevisionList{} },
		Strategy: controllerRevisionRules(),
		Table:    controllerRevisionPrinter(),
	}
}

// leaseKind is coordination.k8s.io/v1 Lease (pkg/registry/coordination/lease).
func leaseKind() Kind[*coordinationv1.Lease] {
	return Kind[*coordinationv1.Lease]{
		GVR:        schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"},
		Kind:       "Lease",
		Namespaced: true, Verbs: verbsAll,
		New:      func() *coordinationv1.Lease { return &coordinationv1.Lease{} },
		NewList:  func() runtime.Object { return &coordinationv1.LeaseList{} },
		Strategy: leaseRules(),
		Table:    leasePrinter(),
	}
}

// serviceAccountRules: a DNS subdomain name; secret references keep only their name, as
// upstream's serviceaccount strategy does.
func serviceAccountRules() Strategy[*corev1.ServiceAccount] {
	clean := func(sa *corev1.ServiceAccount) {
		for i, s := range sa.Secrets {
			sa.Secrets[i] = corev1.ObjectReference{Name: s.Name}
		}
	}
	return Strategy[*corev1.ServiceAccount]{
		PrepareCreate: clean,
		PrepareUpdate: func(sa, _ *corev1.ServiceAccount) { clean(sa) },
		Validate: func(sa *corev1.ServiceAccount) field.ErrorList {
			return validateMeta(sa, true, apivalidation.ValidateServiceAccountName)
		},
	}
}

// controllerRevisionRules are upstream's ValidateControllerRevision(Update): data is required
// and never changes, the revision is not negative.
func controllerRevisionRules() Strategy[*appsv1.ControllerRevision] {
	return Strategy[*appsv1.ControllerRevision]{
		Validate: func(cr *appsv1.ControllerRevision) field.ErrorList {
			errs := validateMeta(cr, true, apivalidation.NameIsDNSSubdomain)
			if cr.Data.Raw == nil && cr.Data.Object == nil {
				errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
			}
			return append(errs, apivalidation.ValidateNonnegativeField(cr.Revision, field.NewPath("revision"))...)
		},
		ValidateUpdate: func(cr, old *appsv1.ControllerRevision) field.ErrorList {
			if !sameRawJSON(cr.Data, old.Data) {
				return field.ErrorList{field.Invalid(field.NewPath("data"), cr.Data, apivalidation.FieldImmutableErrorMsg)}
			}
			return nil
		},
	}
}

// sameRawJSON compares two embedded objects by their JSON meaning, not their bytes.
func sameRawJSON(a, b runtime.RawExtension) bool {
	if bytes.Equal(a.Raw, b.Raw) && a.Object == nil && b.Object == nil {
		return true
	}
	decode := func(e runtime.RawExtension) any {
		raw := e.Raw
		if raw == nil && e.Object != nil {
			raw, _ = json.Marshal(e.Object)
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return string(raw)
		}
		return v
	}
	return reflect.DeepEqual(decode(a), decode(b))
}

// leaseRules are upstream's ValidateLease: positive leaseDurationSeconds, non-negative
// leaseTransitions, a known or qualified strategy, preferredHolder only with a strategy.
func leaseRules() Strategy[*coordinationv1.Lease] {
	return Strategy[*coordinationv1.Lease]{
		RequireResourceVersion: true,
		Validate: func(l *coordinationv1.Lease) field.ErrorList {
			errs := apivalidation.ValidateObjectMeta(&l.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, metaPath())
			return append(errs, validateLeaseSpec(&l.Spec, field.NewPath("spec"))...)
		},
	}
}

func validateLeaseSpec(spec *coordinationv1.LeaseSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if d := spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(fldPath.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	if t := spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(fldPath.Child("leaseTransitions"), *t, "must be greater than or equal to 0"))
	}
	if s := spec.Strategy; s != nil {
		p := fldPath.Child("strategy").Child("strategy")
		if !strings.Contains(string(*s), "/") {
			if *s != coordinationv1.OldestEmulationVersion {
				errs = append(errs, field.NotSupported(p, *s, []coordinationv1.CoordinatedLeaseStrategy{coordinationv1.OldestEmulationVersion}))
			}
		} else {
			for _, msg := range content.IsLabelKey(string(*s)) {
				errs = append(errs, field.Invalid(p, *s, msg))
			}
		}
	}
	if h := spec.PreferredHolder; h != nil && *h != "" && (spec.Strategy == nil || *spec.Strategy == "") {
		errs = append(errs, field.Forbidden(fldPath.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}
