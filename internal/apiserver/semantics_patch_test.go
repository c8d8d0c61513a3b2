package apiserver_test

import (
	"net/http"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	strategicMerge = "application/strategic-merge-patch+json"
	jsonMerge      = "application/merge-patch+json"
	jsonPatch      = "application/json-patch+json"
)

// TestPatchSemantics: PATCH in its three types, and the ways a patch is refused.
//
// Upstream: endpoints/handlers/patch.go — PatchResource refuses other content types with
// negotiation.NewUnsupportedMediaTypeError (415, listing the patch types the installer registers:
// json-patch, merge-patch, strategic-merge-patch, then apply); with the default fieldValidation
// (Warn) a patch that is not JSON is 400 "error decoding patch: ..." (JSON and merge patches) or a
// bare 400 (strategic merge); a JSON patch operation that does not apply is 422 (with json-patch
// v4, as upstream, "replace" of a missing object key adds it, so "remove" is the probe); a patched object
// that does not decode is 422 Invalid at field "patch"; applyPatch's checkName refuses a renamed
// object. A missing object is 404 (jsonPatcher.createNewObject), and the resourceVersion a patch
// carries is checked as an update's is (registry/generic/registry/store.go).
func TestPatchSemantics(t *testing.T) {
	configMap := func(t *testing.T, s *apiServer) map[string]string { return vars(s.configMap(t, "default", "c")) }
	deployment := func(t *testing.T, s *apiServer) map[string]string { return vars(s.deployment(t, "default", "web")) }
	containerPatch := `{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"registry.example/app:2"}]}}}}`
	runCases(t, []apiCase{
		{
			name:  "strategic merge patch merges a container into the list by name",
			setup: deployment, method: http.MethodPatch, path: deployments + "/web",
			contentType: strategicMerge, body: containerPatch,
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				c := decode[appsv1.Deployment](t, r).Spec.Template.Spec.Containers
				if len(c) != 1 || c[0].Image != "registry.example/app:2" || len(c[0].Env) != 1 {
					t.Errorf("containers = %+v, want c with the new image and its env kept", c)
				}
			},
		},
		{
			name:  "JSON merge patch replaces the container list whole",
			setup: deployment, method: http.MethodPatch, path: deployments + "/web",
			contentType: jsonMerge, body: containerPatch,
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				c := get[appsv1.Deployment](t, s, deployments+"/web").Spec.Template.Spec.Containers
				if len(c) != 1 || c[0].Image != "registry.example/app:2" || len(c[0].Env) != 0 {
					t.Errorf("containers = %+v, want c with the new image and no env", c)
				}
			},
		},
		{
			name:  "JSON patch applies its operations in order",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c",
			contentType: jsonPatch,
			body:        `[{"op":"add","path":"/data/b","value":"2"},{"op":"remove","path":"/data/a"}]`,
			want:        want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if d := get[corev1.ConfigMap](t, s, configMaps+"/c").Data; len(d) != 1 || d["b"] != "2" {
					t.Errorf("data = %v, want only b=2", d)
				}
			},
		},
		{
			name:  "a patch content type with a charset parameter is accepted",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c",
			contentType: jsonMerge + "; charset=utf-8", body: `{"data":{"a":"2"}}`,
			want: want{code: http.StatusOK},
		},
		{
			name:  "a patch of an unsupported content type is 415 listing the patch types",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c",
			contentType: "text/plain", body: `{"data":{"a":"2"}}`,
			want: want{code: http.StatusUnsupportedMediaType, reason: metav1.StatusReasonUnsupportedMediaType,
				contains: []string{"the body of the request was in an unknown format - accepted media types include: " +
					"application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"}},
		},
		{
			name:  "a JSON patch that is not JSON is 400",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c",
			contentType: jsonPatch, body: `[{"op":`,
			want: want{code: http.StatusBadRequest, reason: metav1.StatusReasonBadRequest, contains: []string{"error decoding patch: "}},
		},
		{
			name:  "a JSON patch removing a missing key is 422",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c",
			contentType: jsonPatch, body: `[{"op":"remove","path":"/data/missing"}]`,
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid},
		},
		{
			name:  "a JSON patch test operation that fails is 422 and changes nothing",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c",
			contentType: jsonPatch, body: `[{"op":"test","path":"/data/a","value":"9"},{"op":"replace","path":"/data/a","value":"2"}]`,
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid},
			check: func(t *testing.T, s *apiServer, _ *reply, v map[string]string) {
				if got := get[corev1.ConfigMap](t, s, configMaps+"/c"); got.Data["a"] != "1" || got.ResourceVersion != v["rv"] {
					t.Errorf("refused patch changed the object: %v rv %s", got.Data, got.ResourceVersion)
				}
			},
		},
		{
			name:  "a JSON merge patch that is not JSON is 400",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c",
			contentType: jsonMerge, body: `{"data":`,
			want: want{code: http.StatusBadRequest, reason: metav1.StatusReasonBadRequest, contains: []string{"error decoding patch: "}},
		},
		{
			name:  "a strategic merge patch that is not JSON is 400",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c",
			contentType: strategicMerge, body: `{"data":`,
			want: want{code: http.StatusBadRequest, reason: metav1.StatusReasonBadRequest},
		},
		{
			name:  "a merge patch that gives a field the wrong type is 422 at field patch",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c",
			contentType: jsonMerge, body: `{"data":"not-a-map"}`,
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid, causes: []string{"patch"}},
		},
		{
			name:  "a strategic merge patch that gives a field the wrong type is 422 at field patch",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c",
			contentType: strategicMerge, body: `{"data":{"a":7}}`,
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid, causes: []string{"patch"}},
		},
		{
			name:   "a patch of a missing object is 404",
			method: http.MethodPatch, path: configMaps + "/nope",
			contentType: jsonMerge, body: `{"data":{"a":"2"}}`,
			want: want{code: http.StatusNotFound, reason: metav1.StatusReasonNotFound, message: `configmaps "nope" not found`},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if s.exists(t, configMaps+"/nope") {
					t.Error("a patch created the object")
				}
			},
		},
		{
			name: "a patch carrying a stale resourceVersion is 409 Conflict",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				cm := s.configMap(t, "default", "c")
				s.updateConfigMap(t, cm, "2")
				return vars(cm)
			},
			method: http.MethodPatch, path: configMaps + "/c",
			contentType: jsonMerge, body: `{"metadata":{"resourceVersion":"{rv}"},"data":{"a":"3"}}`,
			want: want{code: http.StatusConflict, reason: metav1.StatusReasonConflict,
				message: `Operation cannot be fulfilled on configmaps "c": the object has been modified; please apply your changes to the latest version and try again`},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if got := get[corev1.ConfigMap](t, s, configMaps+"/c"); got.Data["a"] != "2" {
					t.Errorf("a refused patch changed data to %v", got.Data)
				}
			},
		},
		{
			name:  "a patch carrying the current resourceVersion is applied",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c",
			contentType: jsonMerge, body: `{"metadata":{"resourceVersion":"{rv}"},"data":{"a":"3"}}`,
			want: want{code: http.StatusOK},
			check: func(t *testing.T, _ *apiServer, r *reply, v map[string]string) {
				if got := decode[corev1.ConfigMap](t, r); got.Data["a"] != "3" || got.ResourceVersion == v["rv"] {
					t.Errorf("data %v rv %s: want a=3 and a new resourceVersion", got.Data, got.ResourceVersion)
				}
			},
		},
		{
			name:  "a patch that renames the object is 400",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c",
			contentType: jsonMerge, body: `{"metadata":{"name":"other"}}`,
			want: want{code: http.StatusBadRequest, reason: metav1.StatusReasonBadRequest,
				message: "the name of the object (other) does not match the name on the URL (c)"},
		},
		{
			name:  "a patch of the status subresource changes status only",
			setup: deployment, method: http.MethodPatch, path: deployments + "/web/status",
			contentType: jsonMerge, body: `{"spec":{"replicas":4},"status":{"replicas":2}}`,
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				d := get[appsv1.Deployment](t, s, deployments+"/web")
				if *d.Spec.Replicas != 1 || d.Status.Replicas != 2 {
					t.Errorf("spec.replicas %d, status.replicas %d: want 1, 2", *d.Spec.Replicas, d.Status.Replicas)
				}
			},
		},
	})
}
