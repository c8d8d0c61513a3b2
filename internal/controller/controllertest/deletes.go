package controllertest

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// FinishGracefulDeletes makes the cluster finish every pod's graceful deletion at once, as a
// node agent does when the pod's containers have stopped: a pod on a node that is marked for
// deletion is deleted again with grace period 0 (its finalizers still hold it). Without it, a
// pod deleted from a node stays until its grace period has passed in wall-clock time. Call it
// before Start. Its requests are not among Requests.
func (c *Cluster) FinishGracefulDeletes(t testing.TB) {
	t.Helper()
	finish := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok || p.DeletionTimestamp == nil || ptr.Deref(p.DeletionGracePeriodSeconds, 0) == 0 {
			return
		}
		// A pod gone or replaced meanwhile needs nothing more; any other failure means the
		// test is ending.
		_ = c.typed.CoreV1().Pods(p.Namespace).Delete(c.ctx, p.Name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      metav1.NewUIDPreconditions(string(p.UID)),
		})
	}
	if _, err := c.Factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    finish,
		UpdateFunc: func(_, obj any) { finish(obj) },
	}); err != nil {
		t.Fatal(err)
	}
}
