package registry

import (
	authenticationv1 "k8s.io/api/authentication/v1"
	authenticationv1beta1 "k8s.io/api/authentication/v1beta1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The review kinds answer a question about the requesting user instead of storing anything:
// authentication.k8s.io SelfSubjectReview (kubectl auth whoami) and authorization.k8s.io
// SelfSubjectAccessReview, SelfSubjectRulesReview and SubjectAccessReview (kubectl auth can-i,
// k9s before it shows a resource). They are create-only, as upstream's.
//
// skiff has no authorization policy yet: every authenticated user may do everything, so every
// review allows, and says so. They must keep telling the truth when authorization comes.

var verbsCreate = []string{"create"}

func authorization(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: resource}
}

// allowAll is the decision for any request by any authenticated user.
var allowAll = authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: "skiff authorizes every authenticated user"}

func selfSubjectAccessReviewKind() Kind[*authorizationv1.SelfSubjectAccessReview] {
	return Kind[*authorizationv1.SelfSubjectAccessReview]{
		GVR: authorization("selfsubjectaccessreviews"), Kind: "SelfSubjectAccessReview", Verbs: verbsCreate,
		New:     func() *authorizationv1.SelfSubjectAccessReview { return &authorizationv1.SelfSubjectAccessReview{} },
		NewList: func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} },
		Strategy: Strategy[*authorizationv1.SelfSubjectAccessReview]{
			Validate: func(r *authorizationv1.SelfSubjectAccessReview) field.ErrorList {
				return validateAccessReviewSpec(r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes, field.NewPath("spec"))
			},
		},
		Review: func(r *authorizationv1.SelfSubjectAccessReview, _ UserInfo) error {
			r.Status = allowAll
			return nil
		},
	}
}

func subjectAccessReviewKind() Kind[*authorizationv1.SubjectAccessReview] {
	return Kind[*authorizationv1.SubjectAccessReview]{
		GVR: authorization("subjectaccessreviews"), Kind: "SubjectAccessReview", Verbs: verbsCreate,
		New:     func() *authorizationv1.SubjectAccessReview { return &authorizationv1.SubjectAccessReview{} },
		NewList: func() runtime.Object { return &authorizationv1.SubjectAccessReview{} },
		Strategy: Strategy[*authorizationv1.SubjectAccessReview]{
			Validate: func(r *authorizationv1.SubjectAccessReview) field.ErrorList {
				spec := field.NewPath("spec")
				errs := validateAccessReviewSpec(r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes, spec)
				if r.Spec.User == "" && len(r.Spec.Groups) == 0 {
					errs = append(errs, field.Invalid(spec.Child("user"), r.Spec.User, `at least one of user or group must be specified`))
				}
				return errs
			},
		},
		Review: func(r *authorizationv1.SubjectAccessReview, _ UserInfo) error {
			r.Status = allowAll
			return nil
		},
	}
}

func selfSubjectRulesReviewKind() Kind[*authorizationv1.SelfSubjectRulesReview] {
	return Kind[*authorizationv1.SelfSubjectRulesReview]{
		GVR: authorization("selfsubjectrulesreviews"), Kind: "SelfSubjectRulesReview", Verbs: verbsCreate,
		New:     func() *authorizationv1.SelfSubjectRulesReview { return &authorizationv1.SelfSubjectRulesReview{} },
		NewList: func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} },
		Strategy: Strategy[*authorizationv1.SelfSubjectRulesReview]{
			Validate: func(r *authorizationv1.SelfSubjectRulesReview) field.ErrorList {
				if r.Spec.Namespace == "" {
					return field.ErrorList{field.Required(field.NewPath("spec", "namespace"), "")}
				}
				return nil
			},
		},
		Review: func(r *authorizationv1.SelfSubjectRulesReview, _ UserInfo) error {
			all := []string{"*"}
			r.Status = authorizationv1.SubjectRulesReviewStatus{
				ResourceRules:    []authorizationv1.ResourceRule{{Verbs: all, APIGroups: all, Resources: all}},
				NonResourceRules: []authorizationv1.NonResourceRule{{Verbs: all, NonResourceURLs: all}},
			}
			return nil
		},
	}
}

// validateAccessReviewSpec is upstream's check that an access review asks about exactly one of
// a resource and a non-resource URL.
func validateAccessReviewSpec(res *authorizationv1.ResourceAttributes, nonRes *authorizationv1.NonResourceAttributes, spec *field.Path) field.ErrorList {
	switch {
	case res == nil && nonRes == nil:
		return field.ErrorList{field.Invalid(spec.Child("resourceAttributes"), res, `exactly one of nonResourceAttributes or resourceAttributes must be specified`)}
	case res != nil && nonRes != nil:
		return field.ErrorList{field.Invalid(spec.Child("nonResourceAttributes"), nonRes, `cannot be specified in combination with resourceAttributes`)}
	}
	return nil
}

// selfSubjectReviewKind is authentication.k8s.io SelfSubjectReview, which tells the requesting
// user who the server takes them for; also served at v1beta1 for kubectl 1.27.
func selfSubjectReviewKind() Kind[*authenticationv1.SelfSubjectReview] {
	return Kind[*authenticationv1.SelfSubjectReview]{
		GVR:  schema.GroupVersionResource{Group: "authentication.k8s.io", Version: "v1", Resource: "selfsubjectreviews"},
		Kind: "SelfSubjectReview", Verbs: verbsCreate,
		New:     func() *authenticationv1.SelfSubjectReview { return &authenticationv1.SelfSubjectReview{} },
		NewList: func() runtime.Object { return &authenticationv1.SelfSubjectReview{} },
		Review: func(r *authenticationv1.SelfSubjectReview, user UserInfo) error {
			r.Status.UserInfo = authenticationv1.UserInfo{Username: user.Name, Groups: user.Groups}
			return nil
		},
		Versions: []AltVersion{{
			GroupVersion: schema.GroupVersion{Group: "authentication.k8s.io", Version: "v1beta1"},
			New:          func() runtime.Object { return &authenticationv1beta1.SelfSubjectReview{} },
			NewList:      func() runtime.Object { return &authenticationv1beta1.SelfSubjectReview{} },
			ToStorage: func(obj runtime.Object) (runtime.Object, error) {
				out := &authenticationv1.SelfSubjectReview{}
				return out, convertJSON(obj, out)
			},
			FromStorage: func(obj runtime.Object) (runtime.Object, error) {
				out := &authenticationv1beta1.SelfSubjectReview{}
				if err := convertJSON(obj, out); err != nil {
					return nil, err
				}
				out.SetGroupVersionKind(schema.GroupVersionKind{Group: "authentication.k8s.io", Version: "v1beta1", Kind: "SelfSubjectReview"})
				return out, nil
			},
		}},
	}
}
