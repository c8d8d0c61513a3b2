package registry

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// replicationControllerKind is core/v1 ReplicationController (pkg/registry/core/replicationcontroller).
func replicationControllerKind() Kind[*corev1.ReplicationController] {
	return Kind[*corev1.ReplicationController]{
		GVR: core("replicationcontrollers"), Kind: "ReplicationController", Namespaced: true,
		ShortNames: []string{"rc"}, Categories: []string{"all"}, Verbs: verbsAll, Subresources: []string{"status", "scale"},
		New:      func() *corev1.ReplicationController { return &corev1.ReplicationController{} },
		NewList:  func() runtime.Object { return &corev1.ReplicationControllerList{} },
		Strategy: replicationControllerRules(),
		Table:    replicationControllerPrinter(),
		Scale: &Scale[*corev1.ReplicationController]{
			Get: func(rc *corev1.ReplicationController) *autoscalingv1.Scale {
				sel := metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: rc.Spec.Selector})
				return scaleOf(rc.ObjectMeta, rc.Spec.Replicas, rc.Status.Replicas, sel)
			},
			SetReplicas: func(rc *corev1.ReplicationController, n int32) { rc.Spec.Replicas = &n },
		},
	}
}

// replicationControllerRules are upstream's core/v1 ReplicationController defaults and strategy
// (pkg/registry/core/replicationcontroller/strategy.go).
func replicationControllerRules() Strategy[*corev1.ReplicationController] {
	return withStatusResets(Strategy[*corev1.ReplicationController]{
		Default: defaultReplicationController,
		PrepareCreate: func(rc *corev1.ReplicationController) {
			rc.Status = corev1.ReplicationControllerStatus{}
			rc.Generation = 1
		},
		PrepareUpdate: func(rc, old *corev1.ReplicationController) {
			rc.Status = old.Status
			if !apiequality.Semantic.DeepEqual(rc.Spec, old.Spec) {
				rc.Generation = old.Generation + 1
			}
		},
		PrepareStatus: func(rc, old *corev1.ReplicationController) { rc.Spec = old.Spec },
		Validate:      validateReplicationController,
		ValidateStatus: func(rc, old *corev1.ReplicationController) field.ErrorList {
			s := rc.Status
			errs := validateMetaMutable(rc)
			return append(errs, validateReplicaCounts(s.Replicas, s.FullyLabeledReplicas, s.ReadyReplicas, s.AvailableReplicas, s.ObservedGeneration)...)
		},
	})
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
