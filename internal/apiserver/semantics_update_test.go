package apiserver_test

import (
	"net/http"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	deployments = "/apis/apps/v1/namespaces/default/deployments"
	pods        = "/api/v1/namespaces/default/pods"
	leases      = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
)

// TestUpdateSemantics: PUT of a whole object.
//
// Upstream: registry/generic/registry/store.go (Update: unconditional updates where the strategy
// allows them, "must be specified for an update" where it does not, OptimisticLockErrorMsg for a
// stale resourceVersion), storage/interfaces.go (Preconditions.Check: the uid of the body is a
// precondition), endpoints/handlers/rest.go (checkName), etcd3/store.go (GuaranteedUpdate writes
// nothing when the object is unchanged), coordination/lease/strategy.go (AllowUnconditionalUpdate
// false), apps/validation (immutable selector), core/validation (immutable configmaps, pod spec),
// pod and deployment strategies (generation: bumped by a spec change, and for deployments by an
// annotation change, since annotations are copied to replica sets).
func TestUpdateSemantics(t *testing.T) {
	runCases(t, []apiCase{
		{
			name: "update without a resourceVersion is unconditional for a configmap",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				cm := s.configMap(t, "default", "c")
				s.updateConfigMap(t, cm, "2")
				return vars(cm)
			},
			method: http.MethodPut, path: configMaps + "/c",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"3"}}`,
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if got := get[corev1.ConfigMap](t, s, configMaps+"/c"); got.Data["a"] != "3" {
					t.Errorf("data = %v, want a=3", got.Data)
				}
			},
		},
		{
			name: "update of a lease without a resourceVersion is 422: leases require one",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				return vars(s.lease(t, "default", "l"))
			},
			method: http.MethodPut, path: leases + "/l",
			body: `{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l"},"spec":{"holderIdentity":"b"}}`,
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid,
				message: `leases.coordination.k8s.io "l" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update`,
				causes:  []string{"metadata.resourceVersion"}},
		},
		{
			name: "update with a stale resourceVersion is 409 Conflict",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				cm := s.configMap(t, "default", "c")
				s.updateConfigMap(t, cm, "2")
				return vars(cm)
			},
			method: http.MethodPut, path: configMaps + "/c",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","resourceVersion":"{rv}"},"data":{"a":"3"}}`,
			want: want{code: http.StatusConflict, reason: metav1.StatusReasonConflict,
				message: `Operation cannot be fulfilled on configmaps "c": the object has been modified; please apply your changes to the latest version and try again`},
			check: func(t *testing.T, s *apiServer, _ *reply, _ map[string]string) {
				if got := get[corev1.ConfigMap](t, s, configMaps+"/c"); got.Data["a"] != "2" {
					t.Errorf("a refused update changed data to %v", got.Data)
				}
			},
		},
		{
			name: "update with the current resourceVersion is 200 with a new resourceVersion",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				return vars(s.configMap(t, "default", "c"))
			},
			method: http.MethodPut, path: configMaps + "/c",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","resourceVersion":"{rv}"},"data":{"a":"3"}}`,
			want: want{code: http.StatusOK},
			check: func(t *testing.T, _ *apiServer, r *reply, v map[string]string) {
				if got := decode[corev1.ConfigMap](t, r); got.ResourceVersion == v["rv"] || got.Data["a"] != "3" {
					t.Errorf("rv %s -> %s, data %v: want a new resourceVersion and a=3", v["rv"], got.ResourceVersion, got.Data)
				}
			},
		},
		{
			name: "update whose uid is not the stored one is 409 naming both uids",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				return vars(s.configMap(t, "default", "c"))
			},
			method: http.MethodPut, path: configMaps + "/c",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","uid":"6a1b2c3d-0000-4000-8000-000000000000"},"data":{"a":"3"}}`,
			want: want{code: http.StatusConflict, reason: metav1.StatusReasonConflict,
				contains: []string{`Operation cannot be fulfilled on configmaps "c": `,
					"Precondition failed: UID in precondition: 6a1b2c3d-0000-4000-8000-000000000000, UID in object meta: {uid}"}},
		},
		{
			name: "update whose name differs from the URL is 400",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				return vars(s.configMap(t, "default", "c"))
			},
			method: http.MethodPut, path: configMaps + "/c",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"},"data":{"a":"3"}}`,
			want: want{code: http.StatusBadRequest, reason: metav1.StatusReasonBadRequest,
				message: "the name of the object (other) does not match the name on the URL (c)"},
		},
		{
			name:   "update of a missing configmap is 404",
			method: http.MethodPut, path: configMaps + "/nope",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"nope"}}`,
			want: want{code: http.StatusNotFound, reason: metav1.StatusReasonNotFound,
				message: `configmaps "nope" not found`},
		},
		{
			name: "update changing a deployment's selector is 422: the selector is immutable",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				d := s.deployment(t, "default", "web")
				d.Spec.Selector.MatchLabels = map[string]string{"app": "other"}
				d.Spec.Template.Labels = map[string]string{"app": "other"}
				v := vars(d)
				v["body"] = mustJSON(t, d)
				return v
			},
			method: http.MethodPut, path: deployments + "/web", body: "{body}",
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid,
				contains: []string{`Deployment.apps "web" is invalid: spec.selector: Invalid value: `, "field is immutable"},
				causes:   []string{"spec.selector"}},
		},
		{
			name: "update changing the data of an immutable configmap is 422 at data",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				immutable := true
				return vars(s.configMap(t, "default", "c", func(cm *corev1.ConfigMap) { cm.Immutable = &immutable }))
			},
			method: http.MethodPut, path: configMaps + "/c",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"immutable":true,"data":{"a":"2"}}`,
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid,
				message: "ConfigMap \"c\" is invalid: data: Forbidden: field is immutable when `immutable` is set",
				causes:  []string{"data"}},
		},
		{
			name: "update changing a pod's restartPolicy is 422 at spec",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				p := s.pod(t, "default", "p", "")
				p.Spec.RestartPolicy = corev1.RestartPolicyNever
				v := vars(p)
				v["body"] = mustJSON(t, p)
				return v
			},
			method: http.MethodPut, path: pods + "/p", body: "{body}",
			want: want{code: http.StatusUnprocessableEntity, reason: metav1.StatusReasonInvalid,
				contains: []string{`Pod "p" is invalid: spec: Forbidden: pod updates may not change fields other than`},
				causes:   []string{"spec"}},
		},
		{
			name: "update that changes nothing keeps the resourceVersion",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				cm := s.configMap(t, "default", "c")
				v := vars(cm)
				v["body"] = mustJSON(t, cm)
				return v
			},
			method: http.MethodPut, path: configMaps + "/c", body: "{body}",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, v map[string]string) {
				if got := decode[corev1.ConfigMap](t, r); got.ResourceVersion != v["rv"] {
					t.Errorf("resourceVersion %s -> %s for an update that changed nothing", v["rv"], got.ResourceVersion)
				}
				if got := get[corev1.ConfigMap](t, s, configMaps+"/c"); got.ResourceVersion != v["rv"] {
					t.Errorf("stored resourceVersion %s -> %s", v["rv"], got.ResourceVersion)
				}
			},
		},
		{
			name: "a spec change bumps a deployment's generation",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				d := s.deployment(t, "default", "web")
				replicas := int32(3)
				d.Spec.Replicas = &replicas
				return map[string]string{"body": mustJSON(t, d)}
			},
			method: http.MethodPut, path: deployments + "/web", body: "{body}",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, _ *apiServer, r *reply, _ map[string]string) {
				if got := decode[appsv1.Deployment](t, r); got.Generation != 2 {
					t.Errorf("generation = %d, want 2", got.Generation)
				}
			},
		},
		{
			name: "a label change keeps a deployment's generation",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				d := s.deployment(t, "default", "web")
				d.Labels = map[string]string{"tier": "front"}
				return map[string]string{"body": mustJSON(t, d)}
			},
			method: http.MethodPut, path: deployments + "/web", body: "{body}",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, _ *apiServer, r *reply, _ map[string]string) {
				if got := decode[appsv1.Deployment](t, r); got.Generation != 1 || got.Labels["tier"] != "front" {
					t.Errorf("generation = %d, labels %v: want 1 and tier=front", got.Generation, got.Labels)
				}
			},
		},
		{
			name: "an annotation change bumps a deployment's generation",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				d := s.deployment(t, "default", "web")
				d.Annotations = map[string]string{"note": "copied to replica sets"}
				return map[string]string{"body": mustJSON(t, d)}
			},
			method: http.MethodPut, path: deployments + "/web", body: "{body}",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, _ *apiServer, r *reply, _ map[string]string) {
				if got := decode[appsv1.Deployment](t, r); got.Generation != 2 {
					t.Errorf("generation = %d, want 2", got.Generation)
				}
			},
		},
		{
			name: "a client cannot set a deployment's generation",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				d := s.deployment(t, "default", "web")
				d.Generation = 7
				d.Labels = map[string]string{"tier": "front"}
				return map[string]string{"body": mustJSON(t, d)}
			},
			method: http.MethodPut, path: deployments + "/web", body: "{body}",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, _ *apiServer, r *reply, _ map[string]string) {
				if got := decode[appsv1.Deployment](t, r); got.Generation != 1 {
					t.Errorf("generation = %d, want 1", got.Generation)
				}
			},
		},
		{
			name: "a spec change bumps a pod's generation",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				p := s.pod(t, "default", "p", "")
				p.Spec.Containers[0].Image = "registry.example/app:2"
				return map[string]string{"body": mustJSON(t, p)}
			},
			method: http.MethodPut, path: pods + "/p", body: "{body}",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, _ *apiServer, r *reply, _ map[string]string) {
				if got := decode[corev1.Pod](t, r); got.Generation != 2 {
					t.Errorf("generation = %d, want 2", got.Generation)
				}
			},
		},
		{
			name: "a configmap has no generation to bump",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				return vars(s.configMap(t, "default", "c"))
			},
			method: http.MethodPut, path: configMaps + "/c",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"2"}}`,
			want: want{code: http.StatusOK},
			check: func(t *testing.T, _ *apiServer, r *reply, _ map[string]string) {
				if got := decode[corev1.ConfigMap](t, r); got.Generation != 0 {
					t.Errorf("generation = %d, want 0", got.Generation)
				}
			},
		},
	})
}

// TestStatusSubresourceSemantics: the main resource and its status subresource each change only
// their own half. Upstream: apps/deployment/strategy.go and core/pod/strategy.go
// (PrepareForUpdate keeps the stored status; the status strategy keeps the stored spec, and for
// deployments the stored labels).
func TestStatusSubresourceSemantics(t *testing.T) {
	runCases(t, []apiCase{
		{
			name: "status update of a deployment stores status and ignores spec and labels",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				d := s.deployment(t, "default", "web")
				replicas := int32(5)
				d.Spec.Replicas = &replicas
				d.Labels = map[string]string{"tier": "front"}
				d.Status.Replicas = 3
				d.Status.ObservedGeneration = 1
				return map[string]string{"body": mustJSON(t, d)}
			},
			method: http.MethodPut, path: deployments + "/web/status", body: "{body}",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				for _, d := range []appsv1.Deployment{decode[appsv1.Deployment](t, r), get[appsv1.Deployment](t, s, deployments+"/web")} {
					if *d.Spec.Replicas != 1 || d.Status.Replicas != 3 || d.Generation != 1 || len(d.Labels) != 0 {
						t.Errorf("spec.replicas %d, status.replicas %d, generation %d, labels %v: want 1, 3, 1, none",
							*d.Spec.Replicas, d.Status.Replicas, d.Generation, d.Labels)
					}
				}
			},
		},
		{
			name: "update of a deployment stores spec and ignores status",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				d := s.deployment(t, "default", "web")
				replicas := int32(5)
				d.Spec.Replicas = &replicas
				d.Status.Replicas = 3
				return map[string]string{"body": mustJSON(t, d)}
			},
			method: http.MethodPut, path: deployments + "/web", body: "{body}",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				for _, d := range []appsv1.Deployment{decode[appsv1.Deployment](t, r), get[appsv1.Deployment](t, s, deployments+"/web")} {
					if *d.Spec.Replicas != 5 || d.Status.Replicas != 0 {
						t.Errorf("spec.replicas %d, status.replicas %d: want 5, 0", *d.Spec.Replicas, d.Status.Replicas)
					}
				}
			},
		},
		{
			name: "status update of a pod stores status and ignores spec",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				p := s.pod(t, "default", "p", "node-1")
				p.Spec.Containers[0].Image = "registry.example/app:2"
				p.Status.Phase = corev1.PodRunning
				return map[string]string{"body": mustJSON(t, p)}
			},
			method: http.MethodPut, path: pods + "/p/status", body: "{body}",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				for _, p := range []corev1.Pod{decode[corev1.Pod](t, r), get[corev1.Pod](t, s, pods+"/p")} {
					if p.Spec.Containers[0].Image != "registry.example/app:1" || p.Status.Phase != corev1.PodRunning || p.Generation != 1 {
						t.Errorf("image %s, phase %s, generation %d: want app:1, Running, 1",
							p.Spec.Containers[0].Image, p.Status.Phase, p.Generation)
					}
				}
			},
		},
		{
			name: "update of a pod ignores status",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				p := s.pod(t, "default", "p", "node-1")
				p.Labels["tier"] = "front"
				p.Status.Phase = corev1.PodRunning
				return map[string]string{"body": mustJSON(t, p)}
			},
			method: http.MethodPut, path: pods + "/p", body: "{body}",
			want: want{code: http.StatusOK},
			check: func(t *testing.T, s *apiServer, r *reply, _ map[string]string) {
				for _, p := range []corev1.Pod{decode[corev1.Pod](t, r), get[corev1.Pod](t, s, pods+"/p")} {
					if p.Status.Phase != corev1.PodPending || p.Labels["tier"] != "front" {
						t.Errorf("phase %s, labels %v: want Pending and tier=front", p.Status.Phase, p.Labels)
					}
				}
			},
		},
		{
			name: "status update with a stale resourceVersion is 409 Conflict",
			setup: func(t *testing.T, s *apiServer) map[string]string {
				d := s.deployment(t, "default", "web")
				stale := d.DeepCopy()
				d.Labels = map[string]string{"tier": "front"}
				s.mustDo(t, http.MethodPut, deployments+"/web", "", mustJSON(t, d))
				stale.Status.Replicas = 3
				return map[string]string{"body": mustJSON(t, stale)}
			},
			method: http.MethodPut, path: deployments + "/web/status", body: "{body}",
			want: want{code: http.StatusConflict, reason: metav1.StatusReasonConflict,
				message: `Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply your changes to the latest version and try again`},
		},
	})
}
