package apiserver_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestReviewSemantics: the access and identity reviews are create-only and store nothing
// (pkg/registry/authorization/selfsubjectaccessreview/rest.go, pkg/registry/authentication/
// selfsubjectreview/rest.go); a verb a resource does not serve is 405, as upstream's installer
// answers for a route it did not register.
func TestReviewSemantics(t *testing.T) {
	const ssar = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
	runCases(t, []apiCase{
		{
			name:   "a SelfSubjectAccessReview is created with its decision",
			method: http.MethodPost, path: ssar,
			body: `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"create","group":"apps","resource":"deployments","namespace":"default"}}}`,
			want: want{code: http.StatusCreated},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				if got := decode[authorizationv1.SelfSubjectAccessReview](t, r); !got.Status.Allowed {
					t.Errorf("status = %+v, want allowed", got.Status)
				}
			},
		},
		{
			name:   "a SelfSubjectAccessReview without attributes is 422",
			method: http.MethodPost, path: ssar,
			body: `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}`,
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid, causes: []string{"spec.resourceAttributes"}},
		},
		{
			name:   "a SelfSubjectReview names the requesting user",
			method: http.MethodPost, path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
			body: `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`,
			want: want{code: http.StatusCreated},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				if got := decode[authenticationv1.SelfSubjectReview](t, r); got.Status.UserInfo.Username != "admin" {
					t.Errorf("user = %+v, want admin", got.Status.UserInfo)
				}
			},
		},
		{
			name:   "reviews cannot be listed: 405",
			method: http.MethodGet, path: ssar,
			want: want{code: http.StatusMethodNotAllowed, reason: metav1.StatusReasonMethodNotAllowed},
		},
		{
			name:   "the namespaces collection cannot be deleted: 405",
			method: http.MethodDelete, path: "/api/v1/namespaces",
			want: want{code: http.StatusMethodNotAllowed, reason: metav1.StatusReasonMethodNotAllowed},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if !s.exists(t, "/api/v1/namespaces/default") {
					t.Error("the default namespace is gone")
				}
			},
		},
	})
}

// TestReviewTableSemantics: a review has no table columns. Upstream its storage is no
// rest.TableConvertor, so handlers/rest.go AllowsMediaTypeTransform refuses a Table for it and
// a request that accepts only a Table is 406 (e2e: "Servers with support for Table
// transformation should return a 406 for a backend which does not implement metadata"); one
// that also accepts plain JSON gets the review.
func TestReviewTableSemantics(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	sar := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/", Verb: "get"}}}
	rc := s.client.AuthorizationV1().RESTClient()

	err := rc.Post().Resource("selfsubjectaccessreviews").SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
		Body(sar).Do(ctx).Into(&metav1.Table{})
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Code != http.StatusNotAcceptable {
		t.Errorf("only a Table accepted: err = %v, want a 406 Status", err)
	}

	got := &authorizationv1.SelfSubjectAccessReview{}
	if err := rc.Post().Resource("selfsubjectaccessreviews").SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io, application/json").
		Body(sar).Do(ctx).Into(got); err != nil || !got.Status.Allowed {
		t.Errorf("a Table or JSON accepted: %v, status %+v; want the allowed review", err, got.Status)
	}
}
