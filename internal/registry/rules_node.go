package registry

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// nodeKind is core/v1 Node (pkg/registry/core/node).
func nodeKind() Kind[*corev1.Node] {
	return Kind[*corev1.Node]{
		GVR: core("nodes"), Kind: "Node", ShortNames: []string{"no"},
		Verbs: verbsAll, Subresources: []string{"status", "proxy"},
		New:      func() *corev1.Node { return &corev1.Node{} },
		NewList:  func() runtime.Object { return &corev1.NodeList{} },
		Strategy: nodeRules(),
		Table:    nodePrinter(),
	}
}

// nodeRules are upstream's core/v1 Node defaults and strategy (pkg/registry/core/node). Nodes may
// set their status on create; updates of the main resource keep the stored status.
func nodeRules() Strategy[*corev1.Node] {
	return withStatusResets(Strategy[*corev1.Node]{
		Default: func(n *corev1.Node) {
			if n.Status.Allocatable == nil && n.Status.Capacity != nil {
				n.Status.Allocatable = n.Status.Capacity.DeepCopy()
			}
			roundUpResources(n.Status.Capacity)
			roundUpResources(n.Status.Allocatable)
		},
		PrepareUpdate:  func(n, old *corev1.Node) { n.Status = old.Status },
		PrepareStatus:  func(n, old *corev1.Node) { n.Spec = old.Spec },
		Validate:       validateNode,
		ValidateUpdate: validateNodeUpdate,
		ValidateStatus: func(n, old *corev1.Node) field.ErrorList {
			errs := validateMetaMutable(n)
			errs = append(errs, validateNodeResources(n)...)
			errs = append(errs, validateNodeAddresses(n)...)
			return append(errs, validateNodeUpdate(n, old)...)
		},
	})
}

// validateNode is upstream's ValidateNode: a DNS subdomain name, valid taints (reported under
// metadata.taints, as upstream does), capacity and allocatable quantities, pod CIDRs.
func validateNode(n *corev1.Node) field.ErrorList {
	errs := validateMeta(n, false, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateTaints(n.Spec.Taints, metaPath().Child("taints"))...)
	errs = append(errs, validateNodeResources(n)...)
	p := field.NewPath("spec", "podCIDRs")
	for i, cidr := range n.Spec.PodCIDRs {
		errs = append(errs, validation.IsValidCIDR(p.Index(i), cidr)...)
	}
	if len(n.Spec.PodCIDRs) > 1 {
		if len(n.Spec.PodCIDRs) > 2 || strings.Contains(n.Spec.PodCIDRs[0], ":") == strings.Contains(n.Spec.PodCIDRs[1], ":") {
			errs = append(errs, field.Invalid(p, n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
		}
		seen := map[string]bool{}
		for i, cidr := range n.Spec.PodCIDRs {
			if seen[cidr] {
				errs = append(errs, field.Duplicate(p.Index(i), cidr))
			}
			seen[cidr] = true
		}
	}
	return errs
}

// validateTaints: label-like keys and values, a known effect, each (key, effect) once.
func validateTaints(taints []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.TaintEffect]map[string]bool{}
	for i, t := range taints {
		p := fldPath.Index(i)
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, p.Child("key"))...)
		if msgs := content.IsLabelValue(t.Value); len(msgs) != 0 {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, strings.Join(msgs, ";")))
		}
		if t.Effect == "" {
			errs = append(errs, field.Required(p.Child("effect"), ""))
		} else {
			errs = append(errs, validateTaintEffect(t.Effect, p.Child("effect"))...)
		}
		if seen[t.Effect][t.Key] {
			dup := field.Duplicate(p, t)
			dup.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, dup)
			continue
		}
		if seen[t.Effect] == nil {
			seen[t.Effect] = map[string]bool{}
		}
		seen[t.Effect][t.Key] = true
	}
	return errs
}

// validateNodeResources checks the capacity and allocatable quantities.
func validateNodeResources(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	for _, name := range sortedResourceNames(n.Status.Capacity) {
		errs = append(errs, validateQuantity(name, n.Status.Capacity[name], field.NewPath("status", "capacity", string(name)))...)
	}
	for _, name := range sortedResourceNames(n.Status.Allocatable) {
		errs = append(errs, validateQuantity(name, n.Status.Allocatable[name], field.NewPath("status", "allocatable", string(name)))...)
	}
	return errs
}

// validateNodeAddresses rejects duplicate status addresses.
func validateNodeAddresses(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.NodeAddress]bool{}
	for i, a := range n.Status.Addresses {
		if seen[a] {
			errs = append(errs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		seen[a] = true
	}
	return errs
}

// validateNodeUpdate: pod CIDRs and provider ID may only be set once, externalID never changes.
func validateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	if len(old.Spec.PodCIDRs) > 0 {
		p := field.NewPath("spec", "podCIDRs")
		const msg = "node updates may not change podCIDR except from \"\" to valid"
		if len(old.Spec.PodCIDRs) != len(n.Spec.PodCIDRs) {
			errs = append(errs, field.Forbidden(p, msg))
		} else {
			for i := range old.Spec.PodCIDRs {
				if old.Spec.PodCIDRs[i] != n.Spec.PodCIDRs[i] {
					errs = append(errs, field.Forbidden(p, msg))
				}
			}
		}
	}
	if old.Spec.ProviderID != "" && old.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	if n.Spec.DoNotUseExternalID != old.Spec.DoNotUseExternalID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "externalID"), "may not be updated"))
	}
	return errs
}
