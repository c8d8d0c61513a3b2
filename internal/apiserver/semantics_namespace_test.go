package apiserver_test

import (
	"net/http"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const namespaces = "/api/v1/namespaces"

// TestNamespaceSemantics: what the API server itself does when a namespace is deleted. The test
// server runs no namespace controller, so content is never cleaned up here; only the API's part
// is checked.
//
// Upstream: core/namespace/storage/storage.go (Delete: the first delete sets deletionTimestamp and
// phase Terminating and answers the namespace; later deletes answer it while spec.finalizers
// remain; a uid precondition that does not match is "Precondition failed: ..."; the finalize
// store deletes the namespace once spec.finalizers are empty through
// ShouldDeleteNamespaceDuringUpdate), core/namespace/strategy.go (an update of the namespace keeps
// spec.finalizers; only finalize changes them), admission/plugin/namespace/lifecycle/admission.go
// (default, kube-system and kube-public may not be deleted; no new content while Terminating).
func TestNamespaceSemantics(t *testing.T) {
	active := func(t *testing.T, s *apiServer) map[string]string { return vars(s.namespace(t, "team")) }
	terminating := func(t *testing.T, s *apiServer) map[string]string {
		v := active(t, s)
		s.mustDo(t, http.MethodDelete, namespaces+"/team", "", "")
		return v
	}
	isTerminating := func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
		for _, ns := range []corev1.Namespace{decode[corev1.Namespace](t, r), get[corev1.Namespace](t, s, namespaces+"/team")} {
			if ns.Status.Phase != corev1.NamespaceTerminating || ns.DeletionTimestamp == nil {
				t.Errorf("phase %q, deletionTimestamp %v: want Terminating and set", ns.Status.Phase, ns.DeletionTimestamp)
			}
			if !slices.Equal(ns.Spec.Finalizers, []corev1.FinalizerName{corev1.FinalizerKubernetes}) {
				t.Errorf("spec.finalizers = %q, want [kubernetes]", ns.Spec.Finalizers)
			}
		}
	}
	finalize := func(finalizers string) string {
		return `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"},"spec":{"finalizers":` + finalizers + `}}`
	}
	runCases(t, []apiCase{
		{
			name:  "delete of a namespace marks it Terminating: 200 with the namespace",
			setup: active, method: http.MethodDelete, path: namespaces + "/team",
			want: want{code: http.StatusOK}, check: isTerminating,
		},
		{
			name:  "a second delete of a terminating namespace answers 200 with it unchanged",
			setup: terminating, method: http.MethodDelete, path: namespaces + "/team",
			want: want{code: http.StatusOK}, check: isTerminating,
		},
		{
			name:  "a pod cannot be created in a terminating namespace",
			setup: terminating, method: http.MethodPost, path: namespaces + "/team/pods",
			body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
			want: want{code: http.StatusForbidden, reason: metav1.StatusReasonForbidden,
				message: `pods "p" is forbidden: unable to create new content in namespace team because it is being terminated`},
		},
		{
			name: "an object already in a terminating namespace can still be updated",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				s.namespace(t, "team")
				s.configMap(t, "team", "c")
				s.mustDo(t, http.MethodDelete, namespaces+"/team", "", "")
				return nil
			},
			method: http.MethodPatch, path: namespaces + "/team/configmaps/c",
			contentType: jsonMerge, body: `{"data":{"a":"2"}}`,
			want: want{code: http.StatusOK},
		},
		{
			name:  "finalize emptying spec.finalizers removes a terminating namespace",
			setup: terminating, method: http.MethodPut, path: namespaces + "/team/finalize",
			body: finalize(`[]`),
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if s.exists(t, namespaces+"/team") {
					t.Error("the namespace is still stored with no finalizers left")
				}
			},
		},
		{
			name:  "finalize of an active namespace changes spec.finalizers only",
			setup: active, method: http.MethodPut, path: namespaces + "/team/finalize",
			body: finalize(`[]`),
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				ns := get[corev1.Namespace](t, s, namespaces+"/team")
				if len(ns.Spec.Finalizers) != 0 || ns.Status.Phase != corev1.NamespaceActive || ns.DeletionTimestamp != nil {
					t.Errorf("spec.finalizers %q, phase %q, deletionTimestamp %v: want none, Active, unset",
						ns.Spec.Finalizers, ns.Status.Phase, ns.DeletionTimestamp)
				}
			},
		},
		{
			name:  "an update of the namespace itself keeps spec.finalizers",
			setup: active, method: http.MethodPut, path: namespaces + "/team",
			body: `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team","labels":{"tier":"a"}},"spec":{"finalizers":[]}}`,
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				ns := get[corev1.Namespace](t, s, namespaces+"/team")
				if !slices.Equal(ns.Spec.Finalizers, []corev1.FinalizerName{corev1.FinalizerKubernetes}) || ns.Labels["tier"] != "a" {
					t.Errorf("spec.finalizers %q, labels %v: want [kubernetes] and tier=a", ns.Spec.Finalizers, ns.Labels)
				}
			},
		},
		{
			name:   "the default namespace may not be deleted",
			method: http.MethodDelete, path: namespaces + "/default",
			want: want{code: http.StatusForbidden, reason: metav1.StatusReasonForbidden,
				message: `namespaces "default" is forbidden: this namespace may not be deleted`},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if ns := get[corev1.Namespace](t, s, namespaces+"/default"); ns.DeletionTimestamp != nil {
					t.Error("the default namespace was marked for deletion")
				}
			},
		},
		{
			name:   "the kube-system namespace may not be deleted",
			method: http.MethodDelete, path: namespaces + "/kube-system",
			want: want{code: http.StatusForbidden, reason: metav1.StatusReasonForbidden,
				message: `namespaces "kube-system" is forbidden: this namespace may not be deleted`},
		},
		{
			name:   "delete of a missing namespace is 404",
			method: http.MethodDelete, path: namespaces + "/nope",
			want: want{code: http.StatusNotFound, reason: metav1.StatusReasonNotFound, message: `namespaces "nope" not found`},
		},
		{
			name:  "a uid precondition that does not match a namespace is 409",
			setup: active, method: http.MethodDelete, path: namespaces + "/team",
			body: deleteOptions(`"preconditions":{"uid":"6a1b2c3d-0000-4000-8000-000000000000"}`),
			want: want{code: http.StatusConflict, reason: metav1.StatusReasonConflict,
				message: `Operation cannot be fulfilled on namespaces "team": Precondition failed: UID in precondition: 6a1b2c3d-0000-4000-8000-000000000000, UID in object meta: {uid}`},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if ns := get[corev1.Namespace](t, s, namespaces+"/team"); ns.DeletionTimestamp != nil {
					t.Error("a refused delete marked the namespace")
				}
			},
		},
	})
}
