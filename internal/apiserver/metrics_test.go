package apiserver

import (
	"context"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/metrics/metricstest"
)

// scrape reads /metrics through client and parses it.
func scrape(t *testing.T, client kubernetes.Interface) metricstest.Families {
	t.Helper()
	raw, err := client.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("get /metrics: %v", err)
	}
	return metricstest.Parse(t, raw)
}

func TestMetricsEndpoint(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	c := ts.client

	// Unauthenticated scrapes are refused like any other request.
	resp, err := ts.https.Client().Get(ts.https.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated /metrics: got %d, want 401", resp.StatusCode)
	}

	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "kubia"}}},
			},
		},
	}
	d, err = c.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2, UnavailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable"}}}
	if _, err := c.AppsV1().Deployments("default").UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: d.UID, Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](3), Selector: d.Spec.Selector, Template: d.Spec.Template},
	}
	if _, err := c.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppsV1().Deployments("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppsV1().Deployments("default").Get(ctx, "missing", metav1.GetOptions{}); err == nil {
		t.Fatal("get of a missing deployment succeeded")
	}
	if _, err := c.AppsV1().Deployments("default").Patch(ctx, "web", types.MergePatchType, []byte(`{"metadata":{"labels":{"a":"b"}}}`), metav1.PatchOptions{DryRun: []string{"All"}}); err != nil {
		t.Fatal(err)
	}
	w, err := c.AppsV1().Deployments("").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Stop()

	fams := scrape(t, c)
	series := []struct {
		name   string
		labels map[string]string
		want   float64 // < 0: any value
	}{
		{"apiserver_request_total", map[string]string{"verb": "POST", "group": "apps", "version": "v1", "resource": "deployments", "scope": "resource", "component": "apiserver", "code": "201"}, 1},
		{"apiserver_request_total", map[string]string{"verb": "PUT", "resource": "deployments", "subresource": "status", "code": "200"}, 1},
		{"apiserver_request_total", map[string]string{"verb": "GET", "resource": "deployments", "scope": "resource", "code": "200"}, 1},
		{"apiserver_request_total", map[string]string{"verb": "GET", "resource": "deployments", "code": "404"}, 1},
		{"apiserver_request_total", map[string]string{"verb": "LIST", "resource": "deployments", "scope": "namespace", "code": "200"}, 1},
		{"apiserver_request_total", map[string]string{"verb": "PATCH", "resource": "deployments", "dry_run": "All", "code": "200"}, 1},
		{"apiserver_request_total", map[string]string{"verb": "WATCH", "resource": "deployments", "scope": "cluster"}, -1},
		{"apiserver_request_duration_seconds", map[string]string{"verb": "POST", "resource": "replicasets", "component": "apiserver"}, 1},
		{"apiserver_storage_objects", map[string]string{"resource": "deployments.apps"}, 1},
		{"apiserver_storage_objects", map[string]string{"resource": "namespaces"}, -1},
		{"apiserver_resource_objects", map[string]string{"group": "apps", "resource": "replicasets"}, 1},
		{"etcd_request_duration_seconds", map[string]string{"operation": "create", "group": "apps", "resource": "deployments"}, 1},
		{"etcd_requests_total", map[string]string{"operation": "update", "group": "apps", "resource": "deployments"}, 1},
		{"kube_deployment_spec_replicas", map[string]string{"namespace": "default", "deployment": "web"}, 3},
		{"kube_deployment_status_replicas", map[string]string{"deployment": "web"}, 3},
		{"kube_deployment_status_replicas_updated", map[string]string{"deployment": "web"}, 2},
		{"kube_deployment_status_replicas_available", map[string]string{"deployment": "web"}, 2},
		{"kube_deployment_status_replicas_unavailable", map[string]string{"deployment": "web"}, 1},
		{"kube_deployment_status_observed_generation", map[string]string{"deployment": "web"}, 1},
		{"kube_deployment_metadata_generation", map[string]string{"deployment": "web"}, 1},
		{"kube_deployment_spec_paused", map[string]string{"deployment": "web"}, 0},
		{"kube_deployment_status_condition", map[string]string{"deployment": "web", "condition": "Available", "status": "false"}, 1},
		{"kube_deployment_status_condition", map[string]string{"deployment": "web", "condition": "Available", "status": "true"}, 0},
		{"kube_deployment_spec_strategy_rollingupdate_max_surge", map[string]string{"deployment": "web"}, 1},
		{"kube_replicaset_spec_replicas", map[string]string{"namespace": "default", "replicaset": "web-1"}, 3},
		{"kube_replicaset_status_replicas", map[string]string{"replicaset": "web-1"}, 0},
		{"kube_replicaset_status_ready_replicas", map[string]string{"replicaset": "web-1"}, 0},
		{"kube_replicaset_owner", map[string]string{"replicaset": "web-1", "owner_kind": "Deployment", "owner_name": "web", "owner_is_controller": "true"}, 1},
		{"go_goroutines", nil, -1},
		{"process_resident_memory_bytes", nil, -1},
	}
	for _, s := range series {
		got, ok := fams.Value(s.name, s.labels)
		if !ok {
			t.Errorf("no series %s%v", s.name, s.labels)
			continue
		}
		if s.want >= 0 && got != s.want {
			t.Errorf("%s%v = %v, want %v", s.name, s.labels, got, s.want)
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "apiserver_request") {
			for _, m := range fams[name].Metric {
				for _, l := range m.Label {
					if l.GetName() == "resource" && l.GetValue() == "" {
						t.Errorf("%s has a series without a resource: %v", name, m.Label)
					}
				}
			}
		}
	}
}

// BenchmarkInstrument is what counting and timing one request adds to it.
func BenchmarkInstrument(b *testing.B) {
	ts := newTestServer(b)
	r, _ := http.NewRequest(http.MethodGet, "/api/v1/namespaces/default/pods/p", nil)
	info := parseRequestInfo(r)
	w := discardWriter{h: http.Header{}}
	next := func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }
	b.ReportAllocs()
	for b.Loop() {
		ts.srv.metrics.instrument(w, r, &info, next)
	}
}

type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w discardWriter) WriteHeader(int)             {}
