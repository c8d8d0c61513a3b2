package apiserver_test

import (
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const configMaps = "/api/v1/namespaces/default/configmaps"

// TestCreateSemantics: POST of an object, as kube-apiserver answers it.
//
// Upstream: handlers/create.go (namespace check, CreateOptions validation), registry/rest/create.go
// (BeforeCreate: generateName, ObjectMeta validation), registry/generic/registry/store.go
// (Create: AlreadyExists), storage/names/generate.go (5 random characters),
// admission/plugin/namespace/lifecycle/admission.go (missing and terminating namespaces).
func TestCreateSemantics(t *testing.T) {
	runCases(t, []apiCase{
		{
			name:   "create answers 201 with the stored object and its system fields",
			method: http.MethodPost, path: configMaps,
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1"}}`,
			want: want{code: http.StatusCreated},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				created := decode[corev1.ConfigMap](t, r)
				if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() {
					t.Errorf("created object lacks uid, resourceVersion or creationTimestamp: %+v", created.ObjectMeta)
				}
				got := get[corev1.ConfigMap](t, s, configMaps+"/c")
				if got.UID != created.UID || got.ResourceVersion != created.ResourceVersion || got.Data["a"] != "1" {
					t.Errorf("stored %+v, answered %+v", got.ObjectMeta, created.ObjectMeta)
				}
			},
		},
		{
			name:   "generateName gets five random characters appended",
			method: http.MethodPost, path: configMaps,
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"web-"}}`,
			want: want{code: http.StatusCreated},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				created := decode[corev1.ConfigMap](t, r)
				if !strings.HasPrefix(created.Name, "web-") || len(created.Name) != len("web-")+5 {
					t.Errorf("name = %q, want web- and 5 characters", created.Name)
				}
				if created.GenerateName != "web-" {
					t.Errorf("generateName = %q, want it kept", created.GenerateName)
				}
				if !s.exists(t, configMaps+"/"+created.Name) {
					t.Errorf("%s is not stored", created.Name)
				}
			},
		},
		{
			name:   "create without name or generateName is 422 naming metadata.name",
			method: http.MethodPost, path: configMaps,
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}`,
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid,
				message: `ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required`,
				causes:  []string{"metadata.name"}},
		},
		{
			name:   "create whose body names another namespace than the URL is 400",
			method: http.MethodPost, path: configMaps,
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"kube-system"}}`,
			want: want{code: http.StatusBadRequest, reason: metav1.StatusReasonBadRequest,
				message: "the namespace of the provided object does not match the namespace sent on the request"},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if s.exists(t, "/api/v1/namespaces/kube-system/configmaps/c") || s.exists(t, configMaps+"/c") {
					t.Error("a refused create stored the object")
				}
			},
		},
		{
			name: "second create of a name is 409 AlreadyExists",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				return vars(s.configMap(t, "default", "c"))
			},
			method: http.MethodPost, path: configMaps,
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"2"}}`,
			want: want{code: http.StatusConflict, reason: metav1.StatusReasonAlreadyExists,
				message: `configmaps "c" already exists`},
			check: func(t *testing.T, s *apiServer, _ *reply, v map[string]string) {
				if got := get[corev1.ConfigMap](t, s, configMaps+"/c"); string(got.UID) != v["uid"] || got.Data["a"] != "1" {
					t.Errorf("the first object was replaced: %+v", got)
				}
			},
		},
		{
			name:   "create in a namespace that does not exist is 404 naming the namespace",
			method: http.MethodPost, path: "/api/v1/namespaces/nowhere/configmaps",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`,
			want: want{code: http.StatusNotFound, reason: metav1.StatusReasonNotFound,
				message: `namespaces "nowhere" not found`},
		},
		{
			name: "create in a terminating namespace is 403 naming the object, with a NamespaceTerminating cause",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				s.terminatingNamespace(t, "doomed")
				return nil
			},
			method: http.MethodPost, path: "/api/v1/namespaces/doomed/configmaps",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"late"}}`,
			want: want{code: http.StatusForbidden, reason: metav1.StatusReasonForbidden,
				message: `configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated`,
				causes:  []string{"metadata.namespace"}},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				st := decode[metav1.Status](t, r)
				if st.Details == nil || len(st.Details.Causes) == 0 || st.Details.Causes[0].Type != corev1.NamespaceTerminatingCause {
					t.Errorf("details = %+v, want a %s cause", st.Details, corev1.NamespaceTerminatingCause)
				}
			},
		},
		{
			name:   "create with dryRun=All answers 201 and stores nothing",
			method: http.MethodPost, path: configMaps + "?dryRun=All",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`,
			want: want{code: http.StatusCreated},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if s.exists(t, configMaps+"/c") {
					t.Error("a dry-run create stored the object")
				}
			},
		},
	})
}

// TestGetSemantics: GET of one object. Upstream: registry/generic/registry/store.go (Get) with
// storage/errors/storage.go (InterpretGetError → NotFound for the resource and name).
func TestGetSemantics(t *testing.T) {
	runCases(t, []apiCase{
		{
			name: "get answers 200 with the object as stored",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				return vars(s.configMap(t, "default", "c"))
			},
			method: http.MethodGet, path: configMaps + "/c",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, _ *apiServer, r *reply, v map[string]string) {
				got := decode[corev1.ConfigMap](t, r)
				if string(got.UID) != v["uid"] || got.ResourceVersion != v["rv"] || got.Kind != "ConfigMap" || got.APIVersion != "v1" {
					t.Errorf("got %+v %+v, want uid %s rv %s", got.TypeMeta, got.ObjectMeta, v["uid"], v["rv"])
				}
			},
		},
		{
			name:   "get of a missing object is 404 naming resource and name",
			method: http.MethodGet, path: configMaps + "/nope",
			want: want{code: http.StatusNotFound, reason: metav1.StatusReasonNotFound,
				message: `configmaps "nope" not found`},
			check: func(t *testing.T, _ *apiServer, r *reply, _ map[string]string) {
				st := decode[metav1.Status](t, r)
				if st.Details == nil || st.Details.Name != "nope" || st.Details.Kind != "configmaps" {
					t.Errorf("details = %+v, want name nope, kind configmaps", st.Details)
				}
			},
		},
		{
			name:   "get of a missing object of a named group is 404 with the group in the message",
			method: http.MethodGet, path: "/apis/apps/v1/namespaces/default/deployments/nope",
			want: want{code: http.StatusNotFound, reason: metav1.StatusReasonNotFound,
				message: `deployments.apps "nope" not found`},
		},
		{
			name: "get in another namespace does not find the object",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				s.configMap(t, "default", "c")
				return nil
			},
			method: http.MethodGet, path: "/api/v1/namespaces/kube-system/configmaps/c",
			want: want{code: http.StatusNotFound, reason: metav1.StatusReasonNotFound,
				message: `configmaps "c" not found`},
		},
	})
}
