package registry

import (
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// namespaceKind is core/v1 Namespace (pkg/registry/core/namespace). Deleting a namespace marks it
// Terminating; it stays until the namespace controller has emptied it and cleared its
// spec.finalizers through the finalize subresource. No content may be created in it meanwhile.
func namespaceKind() Kind[*corev1.Namespace] {
	return Kind[*corev1.Namespace]{
		GVR: core("namespaces"), Kind: "Namespace", ShortNames: []string{"ns"},
		Verbs: verbsNoDelCol, Subresources: []string{"status", "finalize"},
		New:      func() *corev1.Namespace { return &corev1.Namespace{} },
		NewList:  func() runtime.Object { return &corev1.NamespaceList{} },
		Strategy: namespaceRules(),
		Table:    namespacePrinter(),
		Delete: DeleteStrategy[*corev1.Namespace]{
			Mark:          func(ns *corev1.Namespace) { ns.Status.Phase = corev1.NamespaceTerminating },
			Holds:         func(ns *corev1.Namespace) bool { return len(ns.Spec.Finalizers) > 0 },
			Preconditions: namespaceDeletePreconditions,
			ReturnDeleted: true,
		},
		Admit: Admission[*corev1.Namespace]{
			Delete: refuseSystemNamespaceDelete,
			Terminating: func(ns *corev1.Namespace) bool {
				return ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating
			},
		},
		Actions: map[string]Action{"finalize": {
			Verb: "update",
			New:  func() runtime.Object { return &corev1.Namespace{} },
			Apply: func(obj, req runtime.Object) error {
				obj.(*corev1.Namespace).Spec.Finalizers = req.(*corev1.Namespace).Spec.Finalizers
				return nil
			},
		}},
	}
}

// systemNamespaces may not be deleted (upstream's NamespaceLifecycle admission).
var systemNamespaces = map[string]bool{metav1.NamespaceDefault: true, metav1.NamespaceSystem: true, metav1.NamespacePublic: true}

func refuseSystemNamespaceDelete(ns *corev1.Namespace) error {
	if systemNamespaces[ns.Name] {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, ns.Name, errors.New("this namespace may not be deleted"))
	}
	return nil
}

// namespaceDeletePreconditions is the check upstream's namespace storage makes before a delete,
// with its own messages.
func namespaceDeletePreconditions(ns *corev1.Namespace, p *metav1.Preconditions) error {
	gr := schema.GroupResource{Resource: "namespaces"}
	if p.UID != nil && *p.UID != ns.UID {
		return apierrors.NewConflict(gr, ns.Name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, ns.UID))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != ns.ResourceVersion {
		return apierrors.NewConflict(gr, ns.Name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, ns.ResourceVersion))
	}
	return nil
}

// namespaceRules are upstream's core/v1 Namespace defaults and strategy
// (pkg/registry/core/namespace/strategy.go).
func namespaceRules() Strategy[*corev1.Namespace] {
	return withStatusResets(Strategy[*corev1.Namespace]{
		Default:       defaultNamespace,
		PrepareCreate: prepareNamespaceCreate,
		PrepareUpdate: func(ns, old *corev1.Namespace) {
			ns.Spec.Finalizers = old.Spec.Finalizers
			ns.Status = old.Status
		},
		PrepareStatus:  func(ns, old *corev1.Namespace) { ns.Spec = old.Spec },
		Validate:       validateNamespace,
		ValidateStatus: validateNamespaceStatus,
	})
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
