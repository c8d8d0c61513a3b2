package registry

import (
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// replicationControllerRules are upstream's core/v1 ReplicationController defaults and strategy
// (pkg/registry/core/replicationcontroller/strategy.go).
func replicationControllerRules() kindRules[*corev1.ReplicationController] {
	return kindRules[*corev1.ReplicationController]{
		defaults: defaultReplicationController,
		prepareCreate: func(rc *corev1.ReplicationController) {
			rc.Status = corev1.ReplicationControllerStatus{}
			rc.Generation = 1
		},
		prepareUpdate: func(rc, old *corev1.ReplicationController) {
			rc.Status = old.Status
			if !apiequality.Semantic.DeepEqual(rc.Spec, old.Spec) {
				rc.Generation = old.Generation + 1
			}
		},
		prepareStatus: func(rc, old *corev1.ReplicationController) { rc.Spec = old.Spec },
		validate:      validateReplicationController,
		validateStatus: func(rc, old *corev1.ReplicationController) field.ErrorList {
			s := rc.Status
			errs := validateMetaMutable(rc)
			return append(errs, validateReplicaCounts(s.Replicas, s.FullyLabeledReplicas, s.ReadyReplicas, s.AvailableReplicas, s.ObservedGeneration)...)
		},
	}
}

// defaultReplicationController is SetDefaults_ReplicationController: the selector and, when
// unlabeled, the controller's labels come from the template's labels; 1 replica.
func defaultReplicationController(rc *corev1.ReplicationController) {
	if t := rc.Spec.Template; t != nil && t.Labels != nil {
		if len(rc.Spec.Selector) == 0 {
			rc.Spec.Selector = t.Labels
		}
		if len(rc.Labels) == 0 {
			rc.Labels = t.Labels
		}
	}
	if rc.Spec.Replicas == nil {
		rc.Spec.Replicas = new(int32(1))
	}
	defaultPodTemplate(rc.Spec.Template)
}

// validateReplicationController is upstream's ValidateReplicationController. The selector of a
// replication controller may change on update.
func validateReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateMeta(rc, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(rc.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	selector := labels.Set(rc.Spec.Selector).AsSelector()
	if selector.Empty() {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(derefInt32(rc.Spec.Replicas)), p.Child("replicas"))...)
	return append(errs, validateControllerTemplate(rc.Spec.Template, selector, "ReplicationController", p.Child("template"))...)
}
