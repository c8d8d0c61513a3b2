package registry

import (
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/skiff-dev/skiff/internal/rollout"
)

// deploymentKind is apps/v1 Deployment (pkg/registry/apps/deployment), also served at
// apps/v1beta1 for the chapter's manifests.
func deploymentKind() Kind[*appsv1.Deployment] {
	return Kind[*appsv1.Deployment]{
		GVR: apps("deployments"), Kind: "Deployment", Namespaced: true, ShortNames: []string{"deploy"}, Categories: []string{"all"},
		Verbs: verbsAll, Subresources: []string{"status", "scale"},
		New:      func() *appsv1.Deployment { return &appsv1.Deployment{} },
		NewList:  func() runtime.Object { return &appsv1.DeploymentList{} },
		Strategy: deploymentRules(),
		Table:    deploymentPrinter(),
		Scale: &Scale[*appsv1.Deployment]{
			Get: func(d *appsv1.Deployment) *autoscalingv1.Scale {
				return scaleOf(d.ObjectMeta, d.Spec.Replicas, d.Status.Replicas, selectorString(d.Spec.Selector))
			},
			SetReplicas: func(d *appsv1.Deployment, n int32) { d.Spec.Replicas = &n },
		},
		Versions: []AltVersion{deploymentV1beta1()},
	}
}

// deploymentRules are upstream's apps/v1 Deployment defaults and strategy
// (pkg/apis/apps/v1/defaults.go, pkg/registry/apps/deployment/strategy.go).
func deploymentRules() Strategy[*appsv1.Deployment] {
	return withStatusResets(Strategy[*appsv1.Deployment]{
		Default: defaultDeployment,
		PrepareCreate: func(d *appsv1.Deployment) {
			d.Status = appsv1.DeploymentStatus{}
			d.Generation = 1
		},
		PrepareUpdate:  prepareDeploymentUpdate,
		PrepareStatus:  prepareDeploymentStatus,
		Validate:       validateDeployment,
		ValidateUpdate: validateDeploymentUpdate,
		ValidateStatus: validateDeploymentStatus,
	}, fieldpath.MakePathOrDie("metadata", "labels"))
}

// defaultDeployment is SetDefaults_Deployment: 1 replica, RollingUpdate with 25% surge and 25%
// unavailable, 10 old replica sets kept, a 600s progress deadline; and the pod template defaults.
func defaultDeployment(d *appsv1.Deployment) {
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = new(int32(1))
	}
	s := &d.Spec.Strategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = new(intstr.FromString("25%"))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = new(intstr.FromString("25%"))
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = new(int32(10))
	}
	if d.Spec.ProgressDeadlineSeconds == nil {
		d.Spec.ProgressDeadlineSeconds = new(int32(600))
	}
	defaultPodTemplate(&d.Spec.Template)
}

// prepareDeploymentUpdate keeps the stored status and bumps generation when the spec or the
// annotations changed (annotations are copied to the deployment's replica sets).
func prepareDeploymentUpdate(d, old *appsv1.Deployment) {
	d.Status = old.Status
	if !apiequality.Semantic.DeepEqual(d.Spec, old.Spec) || !apiequality.Semantic.DeepEqual(d.Annotations, old.Annotations) {
		d.Generation = old.Generation + 1
	}
}

// prepareDeploymentStatus keeps the stored spec and labels; annotations may change.
func prepareDeploymentStatus(d, old *appsv1.Deployment) {
	d.Spec = old.Spec
	d.Labels = old.Labels
}

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	errs := validateMeta(d, true, apivalidation.NameIsDNSSubdomain)
	// skiff's opt-in canary and rollback annotations, refused where they
	// are written rather than ignored by the controller.
	errs = append(errs, rollout.Validate(d.Annotations, d.Spec.Strategy.Type)...)
	return append(errs, validateDeploymentSpec(&d.Spec, field.NewPath("spec"))...)
}

// validateDeploymentSpec is upstream's ValidateDeploymentSpec.
func validateDeploymentSpec(spec *appsv1.DeploymentSpec, fldPath *field.Path) field.ErrorList {
	replicas := derefInt32(spec.Replicas)
	errs := apivalidation.ValidateNonnegativeField(int64(replicas), fldPath.Child("replicas"))
	errs = append(errs, validateSelectorAndTemplate(spec.Selector, &spec.Template, "deployment", "ReplicaSet", fldPath)...)
	errs = append(errs, validateDeploymentStrategy(&spec.Strategy, fldPath.Child("strategy"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	if pds := spec.ProgressDeadlineSeconds; pds != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*pds), fldPath.Child("progressDeadlineSeconds"))...)
		if *pds <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(fldPath.Child("progressDeadlineSeconds"), *pds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

// validateSelectorAndTemplate checks the label selector of a deployment or replica set and its
// pod template: the selector is required, valid and non-empty, and must match the template's
// labels. owner names the kind in the empty-selector message (upstream says "deployment" for
// replica sets too), templateKind in the activeDeadlineSeconds one.
func validateSelectorAndTemplate(sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, owner, templateKind string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if sel == nil {
		errs = append(errs, field.Required(fldPath.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("selector"))...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(fldPath.Child("selector"), sel, "empty selector is invalid for "+owner))
		}
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return append(errs, field.Invalid(fldPath.Child("selector"), sel, "invalid label selector"))
	}
	return append(errs, validateControllerTemplate(t, selector, templateKind, fldPath.Child("template"))...)
}

// validateDeploymentStrategy: Recreate takes no rollingUpdate; RollingUpdate needs one whose
// maxUnavailable and maxSurge are non-negative, not both zero, maxUnavailable at most 100%.
func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is '"+string(appsv1.RecreateDeploymentStrategyType)+"'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		return validateRollingUpdate(s.RollingUpdate, fldPath.Child("rollingUpdate"))
	default:
		return field.ErrorList{field.NotSupported(fldPath, *s, []appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
	}
	return nil
}

func validateRollingUpdate(ru *appsv1.RollingUpdateDeployment, fldPath *field.Path) field.ErrorList {
	maxUnavailable, maxSurge := derefIntOrString(ru.MaxUnavailable), derefIntOrString(ru.MaxSurge)
	errs := validateIntOrPercent(maxUnavailable, fldPath.Child("maxUnavailable"))
	errs = append(errs, validateIntOrPercent(maxSurge, fldPath.Child("maxSurge"))...)
	if intOrPercentValue(maxUnavailable) == 0 && intOrPercentValue(maxSurge) == 0 {
		errs = append(errs, field.Invalid(fldPath.Child("maxUnavailable"), maxUnavailable, "may not be 0 when `maxSurge` is 0"))
	}
	if v, ok := percentValue(maxUnavailable); ok && v > 100 {
		errs = append(errs, field.Invalid(fldPath.Child("maxUnavailable"), maxUnavailable, "must not be greater than 100%"))
	}
	return errs
}

// validateIntOrPercent: a non-negative integer or a percentage like "25%".
func validateIntOrPercent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		var errs field.ErrorList
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(fldPath, v, msg))
		}
		return errs
	case intstr.Int:
		return apivalidation.ValidateNonnegativeField(int64(v.IntValue()), fldPath)
	}
	return field.ErrorList{field.Invalid(fldPath, v, "must be an integer or percentage (e.g '5%%')")}
}

// percentValue returns the number of a valid percentage.
func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	return n, true
}

// intOrPercentValue is the number in an integer or percentage (0 for anything else).
func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

func derefIntOrString(v *intstr.IntOrString) intstr.IntOrString {
	if v == nil {
		return intstr.IntOrString{}
	}
	return *v
}

func derefInt32(v *int32) int32 {
	if v == nil {
		return 0
	}
	return *v
}

// validateDeploymentUpdate: in apps/v1 the selector is immutable.
func validateDeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	return apivalidation.ValidateImmutableField(d.Spec.Selector, old.Spec.Selector, field.NewPath("spec", "selector"))
}

// validateDeploymentStatus is upstream's ValidateDeploymentStatusUpdate.
func validateDeploymentStatus(d, old *appsv1.Deployment) field.ErrorList {
	errs := validateMetaMutable(d)
	p := field.NewPath("status")
	s := &d.Status
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"observedGeneration", s.ObservedGeneration},
		{"replicas", int64(s.Replicas)},
		{"updatedReplicas", int64(s.UpdatedReplicas)},
		{"readyReplicas", int64(s.ReadyReplicas)},
		{"availableReplicas", int64(s.AvailableReplicas)},
		{"unavailableReplicas", int64(s.UnavailableReplicas)},
	} {
		errs = append(errs, apivalidation.ValidateNonnegativeField(f.value, p.Child(f.name))...)
	}
	if s.TerminatingReplicas != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*s.TerminatingReplicas), p.Child("terminatingReplicas"))...)
	}
	if s.CollisionCount != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*s.CollisionCount), p.Child("collisionCount"))...)
	}
	const msg = "cannot be greater than status.replicas"
	if s.UpdatedReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("updatedReplicas"), s.UpdatedReplicas, msg))
	}
	if s.ReadyReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("readyReplicas"), s.ReadyReplicas, msg))
	}
	if s.AvailableReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, msg))
	}
	if s.AvailableReplicas > s.ReadyReplicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	if old.Status.CollisionCount != nil && (s.CollisionCount == nil || *s.CollisionCount < *old.Status.CollisionCount) {
		errs = append(errs, field.Invalid(p.Child("collisionCount"), derefInt32(s.CollisionCount), "cannot be decremented"))
	}
	return errs
}
