package registry

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// namespaceRules are upstream's core/v1 Namespace defaults and strategy
// (pkg/registry/core/namespace/strategy.go).
func namespaceRules() kindRules[*corev1.Namespace] {
	return kindRules[*corev1.Namespace]{
		defaults:      defaultNamespace,
		prepareCreate: prepareNamespaceCreate,
		prepareUpdate: func(ns, old *corev1.Namespace) {
			ns.Spec.Finalizers = old.Spec.Finalizers
			ns.Status = old.Status
		},
		prepareStatus:  func(ns, old *corev1.Namespace) { ns.Spec = old.Spec },
		validate:       validateNamespace,
		validateStatus: validateNamespaceStatus,
	}
}

// defaultNamespace is SetDefaults_Namespace and SetDefaults_NamespaceStatus: the
// kubernetes.io/metadata.name label carries the name, and the phase is Active.
func defaultNamespace(ns *corev1.Namespace) {
	if ns.Name != "" {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[corev1.LabelMetadataName] = ns.Name
	}
	if ns.Status.Phase == "" {
		ns.Status.Phase = corev1.NamespaceActive
	}
}

// prepareNamespaceCreate: an Active namespace whose spec.finalizers include "kubernetes".
func prepareNamespaceCreate(ns *corev1.Namespace) {
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	if !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
	}
}

// validateNamespace is upstream's ValidateNamespace: a DNS label name, no namespace, and
// finalizer names that are standard or qualified (reported at spec.finalizers, as upstream does).
func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	errs := validateMeta(ns, false, apivalidation.NameIsDNSLabel)
	p := field.NewPath("spec", "finalizers")
	for _, f := range ns.Spec.Finalizers {
		errs = append(errs, apivalidation.ValidateFinalizerName(string(f), p)...)
		if !knownOrQualifiedFinalizer(string(f)) {
			errs = append(errs, field.Invalid(p, string(f), unknownFinalizerMsg))
		}
	}
	return errs
}

// validateNamespaceStatus: Active unless deleting, Terminating once deleting.
func validateNamespaceStatus(ns, old *corev1.Namespace) field.ErrorList {
	errs := validateMetaMutable(ns)
	p := field.NewPath("status", "Phase")
	if ns.DeletionTimestamp.IsZero() {
		if ns.Status.Phase != corev1.NamespaceActive {
			errs = append(errs, field.Invalid(p, ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty"))
		}
	} else if ns.Status.Phase != corev1.NamespaceTerminating {
		errs = append(errs, field.Invalid(p, ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"))
	}
	return errs
}
