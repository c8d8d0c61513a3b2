package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const applyPatch = "application/apply-patch+yaml"

// appliedConfigMap is an apply patch of configmap c with the given data.
func appliedConfigMap(data string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n" + data
}

// applyConfigMap applies data to configmap c as manager.
func (s *apiServer) applyConfigMap(t *testing.T, manager, data string) {
	t.Helper()
	s.mustDo(t, http.MethodPatch, configMaps+"/c?fieldManager="+manager, applyPatch, appliedConfigMap(data))
}

// managers returns the managed fields entries of obj by manager (and subresource, after a "/").
func managers(t *testing.T, m metav1.ObjectMeta) map[string]metav1.ManagedFieldsEntry {
	t.Helper()
	out := map[string]metav1.ManagedFieldsEntry{}
	for _, e := range m.ManagedFields {
		key := e.Manager
		if e.Subresource != "" {
			key += "/" + e.Subresource
		}
		out[key] = e
	}
	return out
}

// owns reports whether entry e's field set names path, given as the FieldsV1 keys of its steps
// ("f:data", "f:a").
func owns(t *testing.T, e metav1.ManagedFieldsEntry, path ...string) bool {
	t.Helper()
	if e.FieldsV1 == nil {
		return false
	}
	var set map[string]any
	if err := json.Unmarshal(e.FieldsV1.Raw, &set); err != nil {
		t.Fatalf("fieldsV1 %s: %v", e.FieldsV1.Raw, err)
	}
	for _, step := range path {
		next, ok := set[step].(map[string]any)
		if !ok {
			return false
		}
		set = next
	}
	return true
}

// TestApplySemantics: server-side apply (PATCH application/apply-patch+yaml) and the managed
// fields every write records.
//
// Upstream: endpoints/handlers/patch.go — applyPatcher hands the patch to the field manager
// (fieldmanager.Apply) and creates a missing object (forceAllowCreate, 201); PatchOptions are
// validated by ValidatePatchOptions (fieldManager required for apply, force only for apply, at
// most 128 printable characters; 422 PatchOptions.meta.k8s.io); a conflict is
// errors.NewApplyConflict (409 Conflict, one cause per field, "Apply failed with 1 conflict:
// conflict with ..."); a patch naming managedFields is 400. create.go and update.go record the
// writer with fieldManager.UpdateNoErrors, named by the fieldManager parameter or the user
// agent's product (managerOrUserAgent); subresources record subresource "status"; status is a
// reset field of the main resource (the strategies' GetResetFields); managedFields [{}] clears
// the record.
func TestApplySemantics(t *testing.T) {
	configMap := func(t *testing.T, s *apiServer) map[string]string { return vars(s.configMap(t, "default", "c")) }
	appliedByA := func(t *testing.T, s *apiServer) map[string]string {
		s.applyConfigMap(t, "a", "  a: \"1\"\n")
		return nil
	}
	deployment := func(t *testing.T, s *apiServer) map[string]string { return vars(s.deployment(t, "default", "web")) }
	runCases(t, []apiCase{
		{
			name:   "apply creates a missing object, 201, owned by its manager as Apply",
			method: http.MethodPatch, path: configMaps + "/c?fieldManager=a",
			contentType: applyPatch, body: appliedConfigMap("  a: \"1\"\n"),
			want: want{code: http.StatusCreated},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				cm := decode[corev1.ConfigMap](t, r)
				if cm.UID == "" || cm.Data["a"] != "1" {
					t.Errorf("created = %+v, want a stored configmap with a=1", cm)
				}
				e, ok := managers(t, cm.ObjectMeta)["a"]
				if !ok || len(cm.ManagedFields) != 1 {
					t.Fatalf("managedFields = %+v, want one entry of a", cm.ManagedFields)
				}
				if e.Operation != metav1.ManagedFieldsOperationApply || e.APIVersion != "v1" || e.FieldsType != "FieldsV1" || e.Time == nil || e.Subresource != "" {
					t.Errorf("entry = %+v, want Apply at v1, FieldsV1, with a time", e)
				}
				if !owns(t, e, "f:data", "f:a") {
					t.Errorf("a's fields %s do not own data.a", e.FieldsV1.Raw)
				}
			},
		},
		{
			name:  "apply merges into an object another writer made, both recorded",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c?fieldManager=b",
			contentType: applyPatch, body: appliedConfigMap("  b: \"2\"\n"),
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				cm := get[corev1.ConfigMap](t, s, configMaps+"/c")
				if cm.Data["a"] != "1" || cm.Data["b"] != "2" {
					t.Errorf("data = %v, want a=1 kept and b=2 applied", cm.Data)
				}
				m := managers(t, cm.ObjectMeta)
				if e := m["b"]; e.Operation != metav1.ManagedFieldsOperationApply || !owns(t, e, "f:data", "f:b") {
					t.Errorf("b = %+v, want Apply owning data.b", e)
				}
				if e, ok := m["apiserver.test"]; !ok || e.Operation != metav1.ManagedFieldsOperationUpdate || !owns(t, e, "f:data", "f:a") {
					t.Errorf("managers = %v, want the creator (named by its user agent) as Update owning data.a", m)
				}
			},
		},
		{
			name:  "a second apply that drops a field removes it",
			setup: appliedByA, method: http.MethodPatch, path: configMaps + "/c?fieldManager=a",
			contentType: applyPatch, body: appliedConfigMap("  z: \"9\"\n"),
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				if d := get[corev1.ConfigMap](t, s, configMaps+"/c").Data; len(d) != 1 || d["z"] != "9" {
					t.Errorf("data = %v, want only z=9", d)
				}
			},
		},
		{
			name:  "applying a field another manager owns with another value is a 409 naming both",
			setup: appliedByA, method: http.MethodPatch, path: configMaps + "/c?fieldManager=b",
			contentType: applyPatch, body: appliedConfigMap("  a: \"2\"\n"),
			want: want{code: http.StatusConflict, reason: metav1.StatusReasonConflict,
				message: `Apply failed with 1 conflict: conflict with "a": .data.a`, causes: []string{".data.a"}},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				if d := get[corev1.ConfigMap](t, s, configMaps+"/c").Data; d["a"] != "1" {
					t.Errorf("data = %v, want a=1 untouched", d)
				}
			},
		},
		{
			name:  "force takes the field over",
			setup: appliedByA, method: http.MethodPatch, path: configMaps + "/c?fieldManager=b&force=true",
			contentType: applyPatch, body: appliedConfigMap("  a: \"2\"\n"),
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				cm := get[corev1.ConfigMap](t, s, configMaps+"/c")
				m := managers(t, cm.ObjectMeta)
				if cm.Data["a"] != "2" || !owns(t, m["b"], "f:data", "f:a") {
					t.Errorf("data = %v, managers %v: want a=2 owned by b", cm.Data, m)
				}
				if _, ok := m["a"]; ok {
					t.Errorf("a still has an entry %+v, want it gone with its only field", m["a"])
				}
			},
		},
		{
			name:  "applying the same value as another manager shares the field",
			setup: appliedByA, method: http.MethodPatch, path: configMaps + "/c?fieldManager=b",
			contentType: applyPatch, body: appliedConfigMap("  a: \"1\"\n"),
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				m := managers(t, get[corev1.ConfigMap](t, s, configMaps+"/c").ObjectMeta)
				if !owns(t, m["a"], "f:data", "f:a") || !owns(t, m["b"], "f:data", "f:a") {
					t.Errorf("managers = %v, want a and b both owning data.a", m)
				}
			},
		},
		{
			name:  "an update of a field an applier owns takes it from the applier",
			setup: appliedByA, method: http.MethodPatch, path: configMaps + "/c?fieldManager=editor",
			contentType: jsonMerge, body: `{"data":{"a":"3"}}`,
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				m := managers(t, get[corev1.ConfigMap](t, s, configMaps+"/c").ObjectMeta)
				if e := m["editor"]; e.Operation != metav1.ManagedFieldsOperationUpdate || !owns(t, e, "f:data", "f:a") {
					t.Errorf("editor = %+v, want Update owning data.a", e)
				}
			},
		},
		{
			name:   "apply without a fieldManager is 422",
			method: http.MethodPatch, path: configMaps + "/c",
			contentType: applyPatch, body: appliedConfigMap("  a: \"1\"\n"),
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid,
				message: `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch`},
		},
		{
			name:  "force on a patch that is not an apply is 422",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c?force=true",
			contentType: jsonMerge, body: `{"data":{"a":"2"}}`,
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid,
				message: `PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch`},
		},
		{
			name:   "a fieldManager over 128 characters is 422",
			method: http.MethodPatch, path: configMaps + "/c?fieldManager=" + strings.Repeat("m", 129),
			contentType: applyPatch, body: appliedConfigMap("  a: \"1\"\n"),
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid,
				contains: []string{"fieldManager: Too long"}},
		},
		{
			name:   "a fieldManager with a non-printable character is 422",
			method: http.MethodPost, path: configMaps + "?fieldManager=a%07b",
			body: `{"metadata":{"name":"c"}}`,
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid,
				contains: []string{`CreateOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value`, "invalid character U+0007"}},
		},
		{
			name:  "apply with another name in the body than on the URL is 400",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c?fieldManager=a",
			contentType: applyPatch, body: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n",
			want: want{code: http.StatusBadRequest, reason: metav1.StatusReasonBadRequest,
				message: "the name of the object (d) does not match the name on the URL (c)"},
		},
		{
			name:   "apply creating with another name in the body than on the URL is 400",
			method: http.MethodPatch, path: configMaps + "/c?fieldManager=a",
			contentType: applyPatch, body: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n",
			want: want{code: http.StatusBadRequest, reason: metav1.StatusReasonBadRequest,
				message: "the name of the object (d) does not match the name on the URL (c)"},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if s.exists(t, configMaps+"/c") || s.exists(t, configMaps+"/d") {
					t.Error("a configmap was created")
				}
			},
		},
		{
			name:  "an apply patch naming managedFields is 400",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c?fieldManager=a",
			contentType: applyPatch, body: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  managedFields:\n  - manager: x\n",
			want: want{code: http.StatusBadRequest, reason: metav1.StatusReasonBadRequest,
				message: "metadata.managedFields must be nil"},
		},
		{
			name:  "an apply patch of another version than the URL's is 400",
			setup: deployment, method: http.MethodPatch, path: deployments + "/web?fieldManager=a",
			contentType: applyPatch, body: "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata:\n  name: web\n",
			want: want{code: http.StatusBadRequest, reason: metav1.StatusReasonBadRequest,
				message: "invalid object type: apps/v1beta1, Kind=Deployment"},
		},
		{
			name:   "apply at another served version creates the object and records that version",
			method: http.MethodPatch, path: "/apis/apps/v1beta1/namespaces/default/deployments/web?fieldManager=a",
			contentType: applyPatch,
			body: "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  template:\n    metadata:\n      labels:\n        app: web\n" +
				"    spec:\n      containers:\n      - name: c\n        image: registry.example/app:1\n",
			want: want{code: http.StatusCreated},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				d := get[appsv1.Deployment](t, s, deployments+"/web")
				e := managers(t, d.ObjectMeta)["a"]
				if *d.Spec.Replicas != 2 || e.APIVersion != "apps/v1beta1" || !owns(t, e, "f:spec", "f:replicas") {
					t.Errorf("replicas %d, managedFields %+v: want 2, owned by a at apps/v1beta1", *d.Spec.Replicas, d.ManagedFields)
				}
				// and an apply at apps/v1 by another manager sees a's ownership across versions
				r2 := s.do(t, http.MethodPatch, deployments+"/web?fieldManager=b", applyPatch,
					"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n")
				if r2.code != http.StatusConflict || !strings.Contains(string(r2.body), `conflict with \"a\": .spec.replicas`) {
					t.Errorf("apply of replicas at apps/v1: %d %s, want a conflict with a", r2.code, r2.body)
				}
			},
		},
		{
			// upstream answers this 500 with no reason (kubernetes/kubernetes#122480)
			name:  "an apply patch with a field the schema lacks is the field manager's 500",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c?fieldManager=a",
			contentType: applyPatch, body: appliedConfigMap("  a: \"1\"\nbogus: 1\n"),
			want: want{code: http.StatusInternalServerError,
				message: "failed to create typed patch object (/c; /v1, Kind=ConfigMap): .bogus: field not declared in schema"},
		},
		{
			name:  "an apply patch in CBOR is refused as upstream refuses it by default",
			setup: configMap, method: http.MethodPatch, path: configMaps + "/c?fieldManager=a",
			contentType: "application/apply-patch+cbor", body: "\xa0",
			want: want{code: http.StatusUnsupportedMediaType, reason: metav1.StatusReasonUnsupportedMediaType},
		},
		{
			name:  "apply merges containers by name and env by name, keeping what others set",
			setup: deployment, method: http.MethodPatch, path: deployments + "/web?fieldManager=a",
			contentType: applyPatch,
			body: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n" +
				"      - name: c\n        image: registry.example/app:1\n        env:\n        - name: EXTRA\n          value: \"1\"\n",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				d := get[appsv1.Deployment](t, s, deployments+"/web")
				c := d.Spec.Template.Spec.Containers
				if len(c) != 1 || c[0].Image != "registry.example/app:1" || len(c[0].Env) != 2 {
					t.Errorf("containers = %+v, want c with both env vars", c)
				}
			},
		},
		{
			name:  "a conflict inside a list names the element by its key",
			setup: deployment, method: http.MethodPatch, path: deployments + "/web?fieldManager=a",
			contentType: applyPatch,
			body: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n" +
				"      - name: c\n        image: registry.example/app:2\n",
			want: want{code: http.StatusConflict, reason: metav1.StatusReasonConflict,
				contains: []string{`Apply failed with 1 conflict: conflict with "apiserver.test" using apps/v1: .spec.template.spec.containers[name="c"].image`},
				causes:   []string{`.spec.template.spec.containers[name="c"].image`}},
		},
		{
			name:  "status in an apply of the main resource is ignored and not owned",
			setup: deployment, method: http.MethodPatch, path: deployments + "/web?fieldManager=a",
			contentType: applyPatch,
			body:        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    x: \"1\"\nstatus:\n  replicas: 5\n",
			want:        want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				d := get[appsv1.Deployment](t, s, deployments+"/web")
				e := managers(t, d.ObjectMeta)["a"]
				if d.Status.Replicas != 0 || owns(t, e, "f:status") || !owns(t, e, "f:metadata", "f:labels", "f:x") {
					t.Errorf("status %+v, a's fields %s: want status untouched and unowned, the label owned", d.Status, e.FieldsV1.Raw)
				}
			},
		},
		{
			name:  "apply to status records the status subresource and owns only status",
			setup: deployment, method: http.MethodPatch, path: deployments + "/web/status?fieldManager=a",
			contentType: applyPatch,
			body:        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 7\nstatus:\n  replicas: 5\n",
			want:        want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				d := get[appsv1.Deployment](t, s, deployments+"/web")
				e, ok := managers(t, d.ObjectMeta)["a/status"]
				if !ok || e.Operation != metav1.ManagedFieldsOperationApply {
					t.Fatalf("managedFields = %+v, want an Apply entry of a with subresource status", d.ManagedFields)
				}
				if d.Status.Replicas != 5 || *d.Spec.Replicas != 1 || owns(t, e, "f:spec") || !owns(t, e, "f:status", "f:replicas") {
					t.Errorf("replicas spec %d status %d, a's fields %s: want status applied, spec untouched and unowned", *d.Spec.Replicas, d.Status.Replicas, e.FieldsV1.Raw)
				}
			},
		},
		{
			name:   "apply to the status of a missing object is 404",
			method: http.MethodPatch, path: deployments + "/web/status?fieldManager=a",
			contentType: applyPatch, body: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nstatus:\n  replicas: 5\n",
			want: want{code: http.StatusNotFound, reason: metav1.StatusReasonNotFound},
		},
		{
			name:   "a create records its writer by the fieldManager parameter as Update",
			method: http.MethodPost, path: configMaps + "?fieldManager=creator",
			body: `{"metadata":{"name":"c"},"data":{"a":"1"}}`,
			want: want{code: http.StatusCreated},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				cm := decode[corev1.ConfigMap](t, r)
				e, ok := managers(t, cm.ObjectMeta)["creator"]
				if !ok || e.Operation != metav1.ManagedFieldsOperationUpdate || e.APIVersion != "v1" || e.Time == nil || !owns(t, e, "f:data", "f:a") {
					t.Errorf("managedFields = %+v, want creator as Update at v1 owning data.a", cm.ManagedFields)
				}
			},
		},
		{
			name:  "managed fields a client sends on create are not kept",
			setup: nil, method: http.MethodPost, path: configMaps + "?fieldManager=creator",
			body: `{"metadata":{"name":"c","managedFields":[{"manager":"forged","operation":"Apply","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:data":{}}}]},"data":{"a":"1"}}`,
			want: want{code: http.StatusCreated},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				m := managers(t, decode[corev1.ConfigMap](t, r).ObjectMeta)
				if _, ok := m["creator"]; !ok {
					t.Errorf("managers = %v, want creator", m)
				}
			},
		},
		{
			name:  "a status update records the status subresource and only status fields",
			setup: deployment, method: http.MethodPatch, path: deployments + "/web/status?fieldManager=ctrl",
			contentType: jsonMerge, body: `{"spec":{"replicas":9},"status":{"replicas":1}}`,
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				d := get[appsv1.Deployment](t, s, deployments+"/web")
				e, ok := managers(t, d.ObjectMeta)["ctrl/status"]
				if !ok || e.Operation != metav1.ManagedFieldsOperationUpdate || owns(t, e, "f:spec") || !owns(t, e, "f:status", "f:replicas") {
					t.Errorf("managedFields = %+v, want ctrl with subresource status owning status.replicas and no spec", d.ManagedFields)
				}
			},
		},
		{
			name:  "a scale update records the scale subresource owning spec.replicas",
			setup: deployment, method: http.MethodPatch, path: deployments + "/web/scale?fieldManager=scaler",
			contentType: jsonMerge, body: `{"spec":{"replicas":3}}`,
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				d := get[appsv1.Deployment](t, s, deployments+"/web")
				m := managers(t, d.ObjectMeta)
				if e := m["scaler/scale"]; e.APIVersion != "apps/v1" || !owns(t, e, "f:spec", "f:replicas") {
					t.Errorf("managedFields = %+v, want scaler with subresource scale owning spec.replicas", d.ManagedFields)
				}
				if owns(t, m["apiserver.test"], "f:spec", "f:replicas") {
					t.Errorf("the creator still owns spec.replicas: %s", m["apiserver.test"].FieldsV1.Raw)
				}
			},
		},
		{
			name:  "managedFields [{}] clears the record",
			setup: appliedByA, method: http.MethodPatch, path: configMaps + "/c",
			contentType: jsonMerge, body: `{"metadata":{"managedFields":[{}]}}`,
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				if mf := get[corev1.ConfigMap](t, s, configMaps+"/c").ManagedFields; len(mf) != 0 {
					t.Errorf("managedFields = %+v, want none", mf)
				}
			},
		},
		{
			name:  "a writer with neither fieldManager nor user agent is unknown",
			setup: configMap, method: http.MethodPut, path: configMaps + "/c",
			body: `{"metadata":{"name":"c"},"data":{"a":"2"}}`,
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				m := managers(t, get[corev1.ConfigMap](t, s, configMaps+"/c").ObjectMeta)
				if e, ok := m["unknown"]; !ok || !owns(t, e, "f:data", "f:a") {
					t.Errorf("managers = %v, want the request's (no user agent: \"unknown\") owning data.a", m)
				}
			},
		},
	})
}

// TestUserAgentNamesTheManager: a write without a fieldManager is recorded under the product of
// its user agent, as kubectl's client-side apply is ("kubectl-client-side-apply").
func TestUserAgentNamesTheManager(t *testing.T) {
	s := startServer(t)
	s.configMap(t, "default", "c")
	cfg := *s.config
	cfg.UserAgent = "kubectl-client-side-apply/v1.33.0 (linux/amd64) kubernetes/abcdef"
	c, err := kubernetes.NewForConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := c.CoreV1().ConfigMaps("default").Get(context.Background(), "c", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["b"] = "2"
	cm, err = c.CoreV1().ConfigMaps("default").Update(context.Background(), cm, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := managers(t, cm.ObjectMeta)["kubectl-client-side-apply"]; !ok || !owns(t, e, "f:data", "f:b") {
		t.Errorf("managedFields = %+v, want kubectl-client-side-apply owning data.b", cm.ManagedFields)
	}
}
