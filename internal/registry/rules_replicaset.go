package registry

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// replicaSetKind is apps/v1 ReplicaSet (pkg/registry/apps/replicaset).
func replicaSetKind() Kind[*appsv1.ReplicaSet] {
	return Kind[*appsv1.ReplicaSet]{
		GVR: apps("replicasets"), Kind: "ReplicaSet", Namespaced: true, ShortNames: []string{"rs"}, Categories: []string{"all"},
		Verbs: verbsAll, Subresources: []string{"status", "scale"},
		New:      func() *appsv1.ReplicaSet { return &appsv1.ReplicaSet{} },
		NewList:  func() runtime.Object { return &appsv1.ReplicaSetList{} },
		Strategy: replicaSetRules(),
		Table:    replicaSetPrinter(),
		Scale: &Scale[*appsv1.ReplicaSet]{
			Get: func(rs *appsv1.ReplicaSet) *autoscalingv1.Scale {
				return scaleOf(rs.ObjectMeta, rs.Spec.Replicas, rs.Status.Replicas, selectorString(rs.Spec.Selector))
			},
			SetReplicas: func(rs *appsv1.ReplicaSet, n int32) { rs.Spec.Replicas = &n },
		},
	}
}

// replicaSetRules are upstream's apps/v1 ReplicaSet defaults and strategy
// (pkg/registry/apps/replicaset/strategy.go).
func replicaSetRules() Strategy[*appsv1.ReplicaSet] {
	return withStatusResets(Strategy[*appsv1.ReplicaSet]{
		Default: func(rs *appsv1.ReplicaSet) {
			if rs.Spec.Replicas == nil {
				rs.Spec.Replicas = new(int32(1))
			}
			defaultPodTemplate(&rs.Spec.Template)
		},
		PrepareCreate: func(rs *appsv1.ReplicaSet) {
			rs.Status = appsv1.ReplicaSetStatus{}
			rs.Generation = 1
		},
		PrepareUpdate: func(rs, old *appsv1.ReplicaSet) {
			rs.Status = old.Status
			if !apiequality.Semantic.DeepEqual(rs.Spec, old.Spec) {
				rs.Generation = old.Generation + 1
			}
		},
		PrepareStatus: func(rs, old *appsv1.ReplicaSet) { rs.Spec = old.Spec },
		Validate:      validateReplicaSet,
		ValidateUpdate: func(rs, old *appsv1.ReplicaSet) field.ErrorList {
			return apivalidation.ValidateImmutableField(rs.Spec.Selector, old.Spec.Selector, field.NewPath("spec", "selector"))
		},
		ValidateStatus: func(rs, old *appsv1.ReplicaSet) field.ErrorList {
			s := rs.Status
			errs := validateMetaMutable(rs)
			return append(errs, validateReplicaCounts(s.Replicas, s.FullyLabeledReplicas, s.ReadyReplicas, s.AvailableReplicas, s.ObservedGeneration)...)
		},
	})
}

// validateReplicaSet is upstream's ValidateReplicaSet.
func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateMeta(rs, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(derefInt32(rs.Spec.Replicas)), p.Child("replicas"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(rs.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	return append(errs, validateSelectorAndTemplate(rs.Spec.Selector, &rs.Spec.Template, "deployment", "ReplicaSet", p)...)
}

// validateReplicaCounts checks the status of a replica set or replication controller.
func validateReplicaCounts(replicas, fullyLabeled, ready, available int32, observedGeneration int64) field.ErrorList {
	p := field.NewPath("status")
	var errs field.ErrorList
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"replicas", int64(replicas)},
		{"fullyLabeledReplicas", int64(fullyLabeled)},
		{"readyReplicas", int64(ready)},
		{"availableReplicas", int64(available)},
		{"observedGeneration", observedGeneration},
	} {
		errs = append(errs, apivalidation.ValidateNonnegativeField(f.value, p.Child(f.name))...)
	}
	const msg = "cannot be greater than status.replicas"
	if fullyLabeled > replicas {
		errs = append(errs, field.Invalid(p.Child("fullyLabeledReplicas"), fullyLabeled, msg))
	}
	if ready > replicas {
		errs = append(errs, field.Invalid(p.Child("readyReplicas"), ready, msg))
	}
	if available > replicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), available, msg))
	}
	if available > ready {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), available, "cannot be greater than readyReplicas"))
	}
	return errs
}
