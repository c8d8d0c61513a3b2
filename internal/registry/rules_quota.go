package registry

import (
	"slices"

	"github.com/skiff-dev/skiff/internal/quota"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// resourceQuotaKind is core/v1 ResourceQuota (pkg/registry/core/resourcequota). Creating a
// quota is not itself charged to quota.
func resourceQuotaKind() Kind[*corev1.ResourceQuota] {
	return Kind[*corev1.ResourceQuota]{
		GVR: core("resourcequotas"), Kind: "ResourceQuota", Namespaced: true, ShortNames: []string{"quota"},
		Verbs: verbsAll, Subresources: []string{"status"},
		New:      func() *corev1.ResourceQuota { return &corev1.ResourceQuota{} },
		NewList:  func() runtime.Object { return &corev1.ResourceQuotaList{} },
		Strategy: resourceQuotaRules(),
		Table:    resourceQuotaPrinter(),
		Admit:    Admission[*corev1.ResourceQuota]{NoQuota: true, Charge: chargeQuota},
	}
}

// chargeQuota is upstream's quota admission for one quota: obj is refused when it would exceed
// the quota's hard limits, else its usage is reserved in status.used so that creates in quick
// succession are counted before the quota controller recounts.
func chargeQuota(q *corev1.ResourceQuota, obj runtime.Object) (bool, error) {
	used, err := quota.Admit(q, obj, q.Status.Used)
	if err != nil {
		return false, err
	}
	if apiequality.Semantic.DeepEqual(used, q.Status.Used) {
		return false, nil
	}
	q.Status.Used = used
	return true, nil
}

// resourceQuotaRules are upstream's core/v1 ResourceQuota defaults (quantities rounded up to
// milli precision) and strategy (pkg/registry/core/resourcequota): status is the quota
// controller's, through the status subresource.
func resourceQuotaRules() Strategy[*corev1.ResourceQuota] {
	return withStatusResets(Strategy[*corev1.ResourceQuota]{
		Default: func(q *corev1.ResourceQuota) {
			roundUpResources(q.Spec.Hard)
			roundUpResources(q.Status.Hard)
			roundUpResources(q.Status.Used)
		},
		PrepareCreate:  func(q *corev1.ResourceQuota) { q.Status = corev1.ResourceQuotaStatus{} },
		PrepareUpdate:  func(q, old *corev1.ResourceQuota) { q.Status = old.Status },
		PrepareStatus:  func(q, old *corev1.ResourceQuota) { q.Spec = old.Spec },
		Validate:       validateResourceQuota,
		ValidateUpdate: validateResourceQuotaUpdate,
		ValidateStatus: func(q, old *corev1.ResourceQuota) field.ErrorList {
			return append(validateMetaMutable(q), validateQuotaStatus(&q.Status)...)
		},
	})
}

// quotaScopes are the scopes a quota may name.
var quotaScopes = []corev1.ResourceQuotaScope{
	corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating,
	corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort,
	corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeCrossNamespacePodAffinity,
	corev1.ResourceQuotaScopeVolumeAttributesClass,
}

// validateResourceQuota: hard limits on quota resource names with valid quantities, supported
// scopes that do not conflict.
func validateResourceQuota(q *corev1.ResourceQuota) field.ErrorList {
	errs := validateMeta(q, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateQuotaList(q.Spec.Hard, field.NewPath("spec", "hard"))...)
	scopesPath := field.NewPath("spec", "scopes")
	for _, s := range q.Spec.Scopes {
		if !slices.Contains(quotaScopes, s) {
			errs = append(errs, field.Invalid(scopesPath, q.Spec.Scopes, "unsupported scope"))
		}
	}
	for _, pair := range [][2]corev1.ResourceQuotaScope{
		{corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort},
		{corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating},
	} {
		if slices.Contains(q.Spec.Scopes, pair[0]) && slices.Contains(q.Spec.Scopes, pair[1]) {
			errs = append(errs, field.Invalid(scopesPath, q.Spec.Scopes, "conflicting scopes"))
		}
	}
	return append(errs, validateQuotaStatus(&q.Status)...)
}

func validateQuotaStatus(s *corev1.ResourceQuotaStatus) field.ErrorList {
	errs := validateQuotaList(s.Hard, field.NewPath("status", "hard"))
	return append(errs, validateQuotaList(s.Used, field.NewPath("status", "used"))...)
}

func validateQuotaList(list corev1.ResourceList, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range sortedResourceNames(list) {
		p := fldPath.Key(string(name))
		errs = append(errs, validateQuotaResourceName(name, p)...)
		errs = append(errs, validateQuantity(name, list[name], p)...)
	}
	return errs
}

// validateResourceQuotaUpdate: the scopes never change.
func validateResourceQuotaUpdate(q, old *corev1.ResourceQuota) field.ErrorList {
	have := map[corev1.ResourceQuotaScope]bool{}
	for _, s := range q.Spec.Scopes {
		have[s] = true
	}
	had := map[corev1.ResourceQuotaScope]bool{}
	for _, s := range old.Spec.Scopes {
		had[s] = true
	}
	same := len(have) == len(had)
	for s := range had {
		same = same && have[s]
	}
	if !same {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "scopes"), q.Spec.Scopes, apivalidation.FieldImmutableErrorMsg)}
	}
	return nil
}
