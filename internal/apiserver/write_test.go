package apiserver

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestUpdateThatChangesNothingIsNotWritten: an update, status update or patch that leaves the
// object as stored keeps its resourceVersion (nothing is written, no watch event), as
// kube-apiserver does; one that changes something is written.
func TestUpdateThatChangesNothingIsNotWritten(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	deps := ts.client.AppsV1().Deployments("default")
	pods := ts.client.CoreV1().Pods("default")

	d, err := deps.Create(ctx, testDeployment("kubia"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Status.ObservedGeneration = 1
	if d, err = deps.UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"app": "kubia"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		write   func() (metav1.Object, error)
		wantRV  string
		changed bool
	}{
		{name: "update with the object as read", wantRV: d.ResourceVersion, write: func() (metav1.Object, error) {
			return deps.Update(ctx, d.DeepCopy(), metav1.UpdateOptions{})
		}},
		{name: "status update with the status as read", wantRV: d.ResourceVersion, write: func() (metav1.Object, error) {
			return deps.UpdateStatus(ctx, d.DeepCopy(), metav1.UpdateOptions{})
		}},
		{name: "patch setting a label to its value", wantRV: pod.ResourceVersion, write: func() (metav1.Object, error) {
			return pods.Patch(ctx, "p", types.MergePatchType, []byte(`{"metadata":{"labels":{"app":"kubia"}}}`), metav1.PatchOptions{})
		}},
		{name: "patch changing a label", wantRV: pod.ResourceVersion, changed: true, write: func() (metav1.Object, error) {
			return pods.Patch(ctx, "p", types.MergePatchType, []byte(`{"metadata":{"labels":{"app":"other"}}}`), metav1.PatchOptions{})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.write()
			if err != nil {
				t.Fatal(err)
			}
			if changed := got.GetResourceVersion() != tt.wantRV; changed != tt.changed {
				t.Errorf("resourceVersion %s -> %s: written = %v, want %v", tt.wantRV, got.GetResourceVersion(), changed, tt.changed)
			}
		})
	}
}
