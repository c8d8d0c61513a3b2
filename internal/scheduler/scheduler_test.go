package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/skiff-dev/skiff/internal/controller/controllertest"
)

var podsGVR = v1.SchemeGroupVersion.WithResource("pods")

type harness struct {
	client   *fake.Clientset
	recorder *record.FakeRecorder
	binds    atomic.Int64
	changes  *controllertest.Changes // pod and node events, and bindings counted
}

// newHarness returns a fake clientset whose pods/binding subresource sets
// spec.nodeName as the API server does, and counts bindings.
func newHarness(objs ...runtime.Object) *harness {
	h := &harness{client: fake.NewClientset(objs...), recorder: record.NewFakeRecorder(10000), changes: controllertest.NewChanges()}
	h.client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := action.(k8stesting.CreateAction).GetObject().(*v1.Binding)
		obj, err := h.client.Tracker().Get(podsGVR, b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*v1.Pod).DeepCopy()
		if pod.Spec.NodeName != "" {
			return true, nil, apierrors.NewConflict(podsGVR.GroupResource(), b.Name,
				fmt.Errorf("pod %s is already assigned to node %q", b.Name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = b.Target.Name
		if err := h.client.Tracker().Update(podsGVR, pod, b.Namespace); err != nil {
			return true, nil, err
		}
		h.binds.Add(1)
		h.changes.Notify()
		return true, b, nil
	})
	return h
}

// run starts informers and the scheduler until the test ends.
func (h *harness) run(t testing.TB, workers int) {
	t.Helper()
	factory := informers.NewSharedInformerFactory(h.client, 0)
	s := New(h.client, factory, slog.New(slog.DiscardHandler), Options{
		Recorder: h.recorder, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	})
	h.changes.Watch(t, factory.Core().V1().Pods().Informer(), factory.Core().V1().Nodes().Informer())
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, workers) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
}

func (h *harness) pod(t testing.TB, name string) *v1.Pod {
	t.Helper()
	pod, err := h.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod %s: %v", name, err)
	}
	return pod
}

func (h *harness) create(t testing.TB, obj runtime.Object) {
	t.Helper()
	var err error
	switch o := obj.(type) {
	case *v1.Pod:
		_, err = h.client.CoreV1().Pods(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
	case *v1.Node:
		_, err = h.client.CoreV1().Nodes().Create(context.Background(), o, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatalf("create: %v", err)
	}
}

func (h *harness) nodeOf(t testing.TB, name string) func() (bool, string) {
	return func() (bool, string) {
		n := h.pod(t, name).Spec.NodeName
		return n != "", fmt.Sprintf("pod %s not bound", name)
	}
}

func TestSchedulerSpreadsOwnerAcrossNodes(t *testing.T) {
	h := newHarness(makeNode("n1"), makeNode("n2"), makeNode("n3"))
	for i := range 6 {
		h.create(t, makePod(fmt.Sprintf("web-%d", i), ownedBy("rs1"), requests("100m", "64Mi")))
	}
	h.run(t, 4)

	h.changes.Eventually(t, "all 6 pods bound", func() (bool, string) {
		return h.binds.Load() == 6, fmt.Sprintf("%d of 6 pods bound", h.binds.Load())
	})
	perNode := map[string]int{}
	for i := range 6 {
		perNode[h.pod(t, fmt.Sprintf("web-%d", i)).Spec.NodeName]++
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		if perNode[n] != 2 {
			t.Errorf("pods per node = %v, want 2 on each of n1, n2, n3", perNode)
		}
	}
	if got := len(h.recorder.Events); got != 6 {
		t.Errorf("recorded %d events, want 6 Scheduled", got)
	}
	if e := <-h.recorder.Events; !strings.HasPrefix(e, "Normal Scheduled Successfully assigned default/web-") {
		t.Errorf("event = %q", e)
	}
}

func TestSchedulerLeavesPodsItDoesNotServe(t *testing.T) {
	other := makePod("other", func(p *v1.Pod) { p.Spec.SchedulerName = "my-scheduler" })
	terminating := makePod("terminating", func(p *v1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Now()} })
	h := newHarness(makeNode("n1"), other, terminating)
	h.run(t, 1)

	h.create(t, makePod("mine", func(p *v1.Pod) { p.Spec.SchedulerName = v1.DefaultSchedulerName }))
	h.changes.Eventually(t, "mine bound", h.nodeOf(t, "mine"))
	for _, name := range []string{"other", "terminating"} {
		if n := h.pod(t, name).Spec.NodeName; n != "" {
			t.Errorf("pod %s was bound to %s", name, n)
		}
	}
}

func TestSchedulerReportsUnschedulableAndRetriesOnNewNode(t *testing.T) {
	h := newHarness(makeNode("cordoned", cordoned), makeNode("small", allocatable("1", "8Gi", "110")))
	h.create(t, makePod("big", requests("2", "")))
	h.run(t, 2)

	const want = "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable."
	h.changes.Eventually(t, "big reported unschedulable", func() (bool, string) {
		for _, c := range h.pod(t, "big").Status.Conditions {
			if c.Type == v1.PodScheduled {
				return c.Status == v1.ConditionFalse && c.Reason == v1.PodReasonUnschedulable && c.Message == want,
					fmt.Sprintf("condition %+v", c)
			}
		}
		return false, "no PodScheduled condition"
	})
	if e := <-h.recorder.Events; e != "Warning FailedScheduling "+want {
		t.Errorf("event = %q", e)
	}

	h.create(t, makeNode("large", allocatable("8", "8Gi", "110")))
	h.changes.Eventually(t, "big bound to the new node", h.nodeOf(t, "big"))
	if n := h.pod(t, "big").Spec.NodeName; n != "large" {
		t.Errorf("bound to %s, want large", n)
	}
}

func TestSchedulerRetriesWhenAPodGoes(t *testing.T) {
	h := newHarness(makeNode("n1", allocatable("4", "8Gi", "1")), makePod("first", boundTo("n1")))
	h.create(t, makePod("second"))
	h.run(t, 1)

	h.changes.Eventually(t, "second reported unschedulable", func() (bool, string) {
		c := h.pod(t, "second").Status.Conditions
		return len(c) == 1 && c[0].Message == "0/1 nodes are available: 1 Too many pods.", fmt.Sprintf("conditions %+v", c)
	})
	if err := h.client.CoreV1().Pods("default").Delete(context.Background(), "first", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.changes.Eventually(t, "second bound once first is gone", h.nodeOf(t, "second"))
}

func TestSchedulerNeverOverbooksANode(t *testing.T) {
	h := newHarness(makeNode("n1", allocatable("4", "8Gi", "3")))
	for i := range 8 {
		h.create(t, makePod(fmt.Sprintf("p%d", i), requests("100m", "")))
	}
	h.run(t, 8)

	h.changes.Eventually(t, "3 bound and 5 unschedulable", func() (bool, string) {
		unsched := 0
		for i := range 8 {
			if c := h.pod(t, fmt.Sprintf("p%d", i)).Status.Conditions; len(c) == 1 {
				unsched++
			}
		}
		return h.binds.Load() == 3 && unsched == 5, fmt.Sprintf("%d bound, %d unschedulable", h.binds.Load(), unsched)
	})
}

func TestSchedulerRetriesAFailedBinding(t *testing.T) {
	h := newHarness(makeNode("n1"))
	var failures atomic.Int64
	h.client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() == "binding" && failures.Add(1) == 1 {
			return true, nil, apierrors.NewServiceUnavailable("storage busy")
		}
		return false, nil, nil
	})
	h.create(t, makePod("p"))
	h.run(t, 1)

	h.changes.Eventually(t, "p bound after the failed binding", h.nodeOf(t, "p"))
	if failures.Load() < 2 {
		t.Errorf("binding attempts = %d, want a failed one and a retry", failures.Load())
	}
}

func TestNodeCacheAssume(t *testing.T) {
	c := newNodeCache()
	c.setNode(makeNode("n1", allocatable("1", "1Gi", "10")))
	a := newPodInfo(makePod("a", requests("600m", "")))
	b := newPodInfo(makePod("b", requests("600m", "")))

	if node, err := c.assume(a); err != nil || node != "n1" {
		t.Fatalf("assume a = %q, %v", node, err)
	}
	if _, err := c.assume(b); err == nil {
		t.Fatal("b fitted although a's assumed cpu leaves 400m")
	}
	c.forget(a.pod.UID)
	if node, err := c.assume(b); err != nil || node != "n1" {
		t.Fatalf("after forgetting a, assume b = %q, %v", node, err)
	}
	// The informer confirms b: the charge stays, forget no longer drops it.
	bound := b.pod.DeepCopy()
	bound.Spec.NodeName = "n1"
	c.observePod(bound)
	c.forget(b.pod.UID)
	if _, err := c.assume(a); err == nil {
		t.Fatal("a fitted although b is bound")
	}
	if !c.removePod(b.pod.UID) {
		t.Fatal("removePod(b) found nothing")
	}
	if _, err := c.assume(a); err != nil {
		t.Fatalf("a does not fit an empty node: %v", err)
	}
}

// BenchmarkScheduleThousandPods measures binding 1,000 pending pods on 10
// nodes against the fake clientset: it should be bounded by the binding writes.
func BenchmarkScheduleThousandPods(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		var objs []runtime.Object
		for i := range 10 {
			objs = append(objs, makeNode(fmt.Sprintf("n%d", i), allocatable("32", "256Gi", "1000")))
		}
		for i := range 1000 {
			objs = append(objs, makePod(fmt.Sprintf("p%d", i), ownedBy("rs1"), requests("10m", "16Mi")))
		}
		h := newHarness(objs...)
		h.recorder = &record.FakeRecorder{} // discard events
		b.StartTimer()
		h.run(b, 8)
		h.changes.Eventually(b, "all 1000 pods bound", func() (bool, string) {
			return h.binds.Load() == 1000, fmt.Sprintf("%d of 1000 bound", h.binds.Load())
		})
	}
}
