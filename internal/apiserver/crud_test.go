package apiserver

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

func testDeployment(name string) *appsv1.Deployment {
	replicas := int32(3)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nodejs", Image: "luksa/kubia:v1"}}},
			},
		},
	}
}

func TestCRUDThroughClientGo(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	deps := ts.client.AppsV1().Deployments("default")

	created, err := deps.Create(ctx, testDeployment("kubia"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() {
		t.Fatalf("create did not set system metadata: %+v", created.ObjectMeta)
	}
	if created.Generation != 1 {
		t.Errorf("generation = %d, want 1", created.Generation)
	}
	if _, err := deps.Create(ctx, testDeployment("kubia"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: got %v, want AlreadyExists", err)
	}

	got, err := deps.Get(ctx, "kubia", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.ResourceVersion != created.ResourceVersion {
		t.Errorf("get rv %s != create rv %s", got.ResourceVersion, created.ResourceVersion)
	}
	if _, err := deps.Get(ctx, "nope", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get missing: got %v, want NotFound", err)
	}

	// update with a stale resourceVersion conflicts
	stale := got.DeepCopy()
	got.Spec.Template.Spec.Containers[0].Image = "luksa/kubia:v2"
	updated, err := deps.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if updated.Generation != 2 {
		t.Errorf("generation after spec change = %d, want 2", updated.Generation)
	}
	stale.Spec.Template.Spec.Containers[0].Image = "luksa/kubia:v3"
	if _, err := deps.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: got %v, want Conflict", err)
	}

	// the three patch types
	patches := []struct {
		name  string
		typ   types.PatchType
		patch string
		check func(*appsv1.Deployment) bool
	}{
		{"strategic merge sets minReadySeconds", types.StrategicMergePatchType, `{"spec":{"minReadySeconds":10}}`,
			func(d *appsv1.Deployment) bool { return d.Spec.MinReadySeconds == 10 }},
		{"json merge sets a label", types.MergePatchType, `{"metadata":{"labels":{"tier":"web"}}}`,
			func(d *appsv1.Deployment) bool { return d.Labels["tier"] == "web" }},
		{"json patch replaces the image", types.JSONPatchType, `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"luksa/kubia:v4"}]`,
			func(d *appsv1.Deployment) bool { return d.Spec.Template.Spec.Containers[0].Image == "luksa/kubia:v4" }},
	}
	for _, p := range patches {
		t.Run(p.name, func(t *testing.T) {
			d, err := deps.Patch(ctx, "kubia", p.typ, []byte(p.patch), metav1.PatchOptions{})
			if err != nil {
				t.Fatalf("patch: %v", err)
			}
			if !p.check(d) {
				t.Fatalf("patch not applied: %+v", d.Spec)
			}
		})
	}

	list, err := deps.List(ctx, metav1.ListOptions{LabelSelector: "tier=web"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list by label: %v, %d items", err, len(list.Items))
	}
	list, err = deps.List(ctx, metav1.ListOptions{LabelSelector: "tier=db"})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("list by other label: %v, %d items", err, len(list.Items))
	}

	if err := deps.Delete(ctx, "kubia", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := deps.Get(ctx, "kubia", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: got %v, want NotFound", err)
	}
}

func TestWatchSeesEveryChangeInOrder(t *testing.T) {
	ts := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cms := ts.client.CoreV1().ConfigMaps("default")
	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"k": "0"}}
	if cm, err = cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm.Data["k"] = "1"
	if _, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []watch.EventType{watch.Added, watch.Modified, watch.Deleted}
	for i, typ := range want {
		select {
		case ev := <-w.ResultChan():
			if ev.Type != typ {
				t.Fatalf("event %d: %s, want %s", i, ev.Type, typ)
			}
		case <-ctx.Done():
			t.Fatalf("timed out waiting for event %d (%s)", i, typ)
		}
	}
}

func TestProtobufClient(t *testing.T) {
	ts := newTestServer(t)
	cfg := *ts.config
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf"
	cs := kubernetes.NewForConfigOrDie(&cfg)
	ctx := context.Background()
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, testDeployment("p"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("protobuf create: %v", err)
	}
	l, err := cs.AppsV1().Deployments("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("protobuf list: %v %d", err, len(l.Items))
	}
	w, err := cs.AppsV1().Deployments("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Added {
			t.Fatalf("first watch event %s, want ADDED", ev.Type)
		}
		if d, ok := ev.Object.(*appsv1.Deployment); !ok || d.Name != "p" {
			t.Fatalf("unexpected object %T", ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
}
