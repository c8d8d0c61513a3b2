package apiserver

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// BenchmarkTrackPodStatus: what recording managed fields costs one pod status write, as the
// node writes it (Ready, a start time, a container status).
func BenchmarkTrackPodStatus(b *testing.B) {
	ts := newTestServer(&testing.T{})
	defer ts.https.Close()
	srv := ts.srv
	sv := srv.served[gvr{"", "v1", "pods"}]
	gvk := schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	pod := benchPod("p")
	pod.Namespace = "default"
	pod.GetObjectKind().SetGroupVersionKind(gvk)
	sv.res.Default(pod)
	live := srv.track(sv, "", nil, pod, "kube-controller-manager").(*corev1.Pod)
	now := metav1.NewTime(time.Now())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		next := live.DeepCopy()
		next.Status = corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &now, PodIP: "127.0.0.5",
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "nodejs", Ready: true, Image: "luksa/kubia:v1"}}}
		srv.track(sv, "status", live, next, "kubelet")
	}
}
