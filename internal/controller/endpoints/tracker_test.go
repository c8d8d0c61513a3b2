package endpoints

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTriggerTracker(t *testing.T) {
	tr := newTriggerTracker()
	svc := service("kubia").obj()
	a := pod("a", "127.0.1.1").readyAt(t0.Add(time.Second)).obj()
	b := pod("b", "127.0.1.2").readyAt(t0.Add(2 * time.Second)).obj()

	steps := []struct {
		name string
		pods []*corev1.Pod
		want time.Time
	}{
		{name: "first sync: the Service's creation", pods: []*corev1.Pod{a, b}, want: t0},
		{name: "nothing changed: no trigger", pods: []*corev1.Pod{a, b}},
		{name: "one pod's readiness flipped: its transition", pods: []*corev1.Pod{a, pod("b", "127.0.1.2").notReady().readyAt(t0.Add(5 * time.Second)).obj()}, want: t0.Add(5 * time.Second)},
		{name: "two changes: the earlier", pods: []*corev1.Pod{
			pod("a", "127.0.1.1").readyAt(t0.Add(8 * time.Second)).obj(),
			pod("b", "127.0.1.2").readyAt(t0.Add(7 * time.Second)).obj(),
		}, want: t0.Add(7 * time.Second)},
		{name: "deletion requested: the request time, before the grace period", pods: []*corev1.Pod{
			pod("a", "127.0.1.1").readyAt(t0.Add(8 * time.Second)).obj(),
			func() *corev1.Pod {
				p := pod("b", "127.0.1.2").readyAt(t0.Add(7 * time.Second)).obj()
				p.DeletionTimestamp = &metav1.Time{Time: t0.Add(40 * time.Second)}
				p.DeletionGracePeriodSeconds = new(int64(30))
				return p
			}(),
		}, want: t0.Add(10 * time.Second)},
	}
	for _, s := range steps {
		if got := tr.compute("default/kubia", svc, s.pods); !got.Equal(s.want) {
			t.Errorf("%s: trigger %v; want %v", s.name, got, s.want)
		}
	}
	tr.forget("default/kubia")
	if got := tr.compute("default/kubia", svc, []*corev1.Pod{a}); !got.Equal(t0) {
		t.Errorf("after forget: trigger %v; want the Service's creation %v", got, t0)
	}
}

func TestSliceTracker(t *testing.T) {
	tr := newSliceTracker()
	slice := func(name string, gen int64) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: gen}}
	}
	if tr.stale("svc", nil) {
		t.Fatal("nothing written, yet stale")
	}
	tr.record("svc", "s1", 1)
	if !tr.stale("svc", nil) {
		t.Error("a created slice missing from the cache is not stale")
	}
	if tr.stale("svc", []*discoveryv1.EndpointSlice{slice("s1", 1)}) {
		t.Error("the cache holds the created slice, yet stale")
	}
	tr.record("svc", "s1", 3)
	if !tr.stale("svc", []*discoveryv1.EndpointSlice{slice("s1", 2)}) {
		t.Error("an older generation in the cache is not stale")
	}
	tr.record("svc", "s1", sliceDeleted)
	if !tr.stale("svc", []*discoveryv1.EndpointSlice{slice("s1", 3)}) {
		t.Error("a deleted slice still cached is not stale")
	}
	if tr.stale("svc", nil) {
		t.Error("the deletion reached the cache, yet stale")
	}
	tr.record("svc", "s2", 1)
	tr.observeDeleted("svc", "s2")
	if tr.stale("svc", nil) {
		t.Error("a slice deleted by someone else keeps the Service stale")
	}
}
