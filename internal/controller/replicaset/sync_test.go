package replicaset

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/controller/controllertest"
)

var webLabels = map[string]string{"app": "kubia"}

func newRS(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "rs-uid", Generation: 1},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: webLabels},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: webLabels},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "nodejs", Image: "luksa/kubia:v1"}}},
			},
		},
	}
}

// ownedPod is a pod already controlled by the ReplicaSet from newRS.
func ownedPod(name string, opts ...podOpt) *v1.Pod {
	p := mkPod(name, opts...)
	p.Labels = webLabels
	p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(newRS("kubia", 0), appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}
	return p
}

type harness struct {
	*controllertest.Cluster
	c      *Controller
	events *record.FakeRecorder
}

// start runs a controller built by newFn over a cluster holding objs. Pods
// deleted from a node go at once, as if their containers stopped at once.
func start(t *testing.T, newFn func(*controllertest.Cluster, ...Option) *Controller, objs []runtime.Object, opts []Option) *harness {
	t.Helper()
	cl := controllertest.NewCluster(t, objs...)
	cl.FinishGracefulDeletes(t)
	events := record.NewFakeRecorder(1000)
	c := newFn(cl, append([]Option{WithClock(cl.Clock), WithEventRecorder(events)}, opts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	cl.Start(t, ctx)
	done := make(chan error)
	go func() { done <- c.Run(ctx, 2) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &harness{Cluster: cl, c: c, events: events}
}

func forReplicaSets(cl *controllertest.Cluster, opts ...Option) *Controller {
	return New(cl.Client, cl.Factory, slog.New(slog.DiscardHandler), opts...)
}

func forReplicationControllers(cl *controllertest.Cluster, opts ...Option) *Controller {
	return NewForReplicationControllers(cl.Client, cl.Factory, slog.New(slog.DiscardHandler), opts...)
}

func (h *harness) pods(t *testing.T) []*v1.Pod {
	t.Helper()
	pods, err := h.Factory.Core().V1().Pods().Lister().Pods("default").List(labels.Everything())
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(pods, func(a, b *v1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return pods
}

func (h *harness) rs(t *testing.T, name string) *appsv1.ReplicaSet {
	t.Helper()
	rs, err := h.Factory.Apps().V1().ReplicaSets().Lister().ReplicaSets("default").Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// waitStatus waits until the ReplicaSet's status, as the informer sees it,
// satisfies ok.
func (h *harness) waitStatus(t *testing.T, name, what string, ok func(appsv1.ReplicaSetStatus) bool) appsv1.ReplicaSet {
	t.Helper()
	var rs *appsv1.ReplicaSet
	h.Eventually(t, what, func() (bool, string) {
		var err error
		rs, err = h.Factory.Apps().V1().ReplicaSets().Lister().ReplicaSets("default").Get(name)
		if err != nil {
			return false, err.Error()
		}
		return ok(rs.Status), fmt.Sprintf("status %+v", rs.Status)
	})
	return *rs
}

func (h *harness) drainEvents() []string {
	var out []string
	for {
		select {
		case e := <-h.events.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func countActions(cl *controllertest.Cluster, verb, resource string) int {
	n := 0
	for _, r := range cl.Requests() {
		if r.Verb == verb && r.Resource == resource && r.Subresource == "" {
			n++
		}
	}
	return n
}

func TestCreatesMissingPods(t *testing.T) {
	h := start(t, forReplicaSets, []runtime.Object{newRS("kubia", 3)}, nil)
	rs := h.waitStatus(t, "kubia", "3 replicas", func(s appsv1.ReplicaSetStatus) bool {
		return s.Replicas == 3 && s.FullyLabeledReplicas == 3 && s.ObservedGeneration == 1
	})

	pods := h.pods(t)
	if len(pods) != 3 {
		t.Fatalf("%d pods, want 3", len(pods))
	}
	for _, p := range pods {
		if !strings.HasPrefix(p.Name, "kubia-") || p.GenerateName != "kubia-" {
			t.Errorf("pod %q (generateName %q) not named after its ReplicaSet", p.Name, p.GenerateName)
		}
		ref := metav1.GetControllerOf(p)
		if ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || !ptr.Deref(ref.BlockOwnerDeletion, false) {
			t.Errorf("pod %s controller ref = %+v", p.Name, ref)
		}
		if p.Spec.Containers[0].Image != "luksa/kubia:v1" {
			t.Errorf("pod %s not built from the template", p.Name)
		}
	}
	if n := countActions(h.Cluster, "create", "pods"); n != 3 {
		t.Errorf("%d pod creations, want exactly 3 (expectations must prevent double creates)", n)
	}
	events := h.drainEvents()
	for _, p := range pods {
		if want := "Normal SuccessfulCreate Created pod: " + p.Name; !slices.Contains(events, want) {
			t.Errorf("missing event %q in %q", want, events)
		}
	}
	if rs.Status.TerminatingReplicas == nil || *rs.Status.TerminatingReplicas != 0 {
		t.Errorf("terminatingReplicas = %v, want 0", rs.Status.TerminatingReplicas)
	}
}

func TestScaleDownDeletesInRankingOrder(t *testing.T) {
	h := start(t, forReplicaSets, []runtime.Object{
		newRS("kubia", 1),
		ownedPod("ready", readyFor(time.Hour)),
		ownedPod("pending", phase(v1.PodPending)),
		ownedPod("unscheduled", phase(v1.PodPending), unscheduled),
	}, nil)
	h.waitStatus(t, "kubia", "1 replica", func(s appsv1.ReplicaSetStatus) bool { return s.Replicas == 1 })
	pods := h.pods(t)
	if len(pods) != 1 || pods[0].Name != "ready" {
		t.Fatalf("kept %v, want only the ready pod", pods)
	}
	events := h.drainEvents()
	for _, want := range []string{"Normal SuccessfulDelete Deleted pod: pending", "Normal SuccessfulDelete Deleted pod: unscheduled"} {
		if !slices.Contains(events, want) {
			t.Errorf("missing event %q in %q", want, events)
		}
	}
}

func TestAdoptsOrphansAndReleasesMismatches(t *testing.T) {
	orphan := mkPod("orphan", readyFor(time.Hour))
	orphan.Labels = webLabels
	strayed := ownedPod("strayed")
	strayed.Labels = map[string]string{"app": "debugging"}
	someoneElses := mkPod("someone-elses")
	someoneElses.Labels = webLabels
	someoneElses.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "other", UID: "other-uid", Controller: ptr.To(true)}}

	h := start(t, forReplicaSets, []runtime.Object{newRS("kubia", 2), orphan, strayed, someoneElses}, nil)
	h.waitStatus(t, "kubia", "2 replicas", func(s appsv1.ReplicaSetStatus) bool { return s.Replicas == 2 })

	rsUID := h.rs(t, "kubia").UID
	owned := 0
	for _, p := range h.pods(t) {
		ref := metav1.GetControllerOf(p)
		switch p.Name {
		case "orphan":
			if ref == nil || ref.UID != rsUID || !ptr.Deref(ref.BlockOwnerDeletion, false) {
				t.Errorf("orphan not adopted: %+v", p.OwnerReferences)
			}
		case "strayed":
			if len(p.OwnerReferences) != 0 {
				t.Errorf("pod whose labels stopped matching not released: %+v", p.OwnerReferences)
			}
		case "someone-elses":
			if ref == nil || ref.UID != "other-uid" {
				t.Errorf("another controller's pod was touched: %+v", p.OwnerReferences)
			}
		}
		if ref != nil && ref.UID == rsUID {
			owned++
		}
	}
	if owned != 2 {
		t.Errorf("%d pods owned, want 2 (the adopted orphan and one new)", owned)
	}
	if n := countActions(h.Cluster, "create", "pods"); n != 1 {
		t.Errorf("%d pods created, want 1", n)
	}
}

// quota is a ResourceQuota of pods in default, counted as the quota
// controller would have: none used.
func quota(pods string) *v1.ResourceQuota {
	hard := v1.ResourceList{v1.ResourcePods: resource.MustParse(pods)}
	return &v1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "compute", Namespace: "default"},
		Spec:       v1.ResourceQuotaSpec{Hard: hard},
		Status:     v1.ResourceQuotaStatus{Hard: hard, Used: v1.ResourceList{v1.ResourcePods: resource.MustParse("0")}},
	}
}

func TestQuotaRefusalReportsReplicaFailure(t *testing.T) {
	// Retries wait an hour, so the attempts counted are those of the syncs
	// that events cause.
	slow := WithRateLimiter(workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Hour, time.Hour))
	h := start(t, forReplicaSets, []runtime.Object{quota("0"), newRS("kubia", 10)}, []Option{slow})

	failing := h.waitStatus(t, "kubia", "ReplicaFailure", func(s appsv1.ReplicaSetStatus) bool {
		return getCondition(s, appsv1.ReplicaSetReplicaFailure) != nil
	})
	cond := getCondition(failing.Status, appsv1.ReplicaSetReplicaFailure)
	if cond.Status != v1.ConditionTrue || cond.Reason != "FailedCreate" || !strings.Contains(cond.Message, "exceeded quota") {
		t.Errorf("ReplicaFailure = %+v", cond)
	}
	// Each sync stops at its first refused create: one sync fails, its
	// status write wakes a second one, and then retries back off.
	if n := countActions(h.Cluster, "create", "pods"); n > 2 {
		t.Errorf("%d create attempts for 10 missing pods, want at most one per sync", n)
	}
	if events := h.drainEvents(); len(events) == 0 || !strings.HasPrefix(events[0], "Warning FailedCreate Error creating: ") {
		t.Errorf("events = %q, want a FailedCreate warning", events)
	}

	// The quota frees up; the next sync creates the pods and clears the condition.
	ctx := context.Background()
	q, err := h.Client.CoreV1().ResourceQuotas("default").Get(ctx, "compute", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raised := quota("10")
	q.Spec = raised.Spec
	if q, err = h.Client.CoreV1().ResourceQuotas("default").Update(ctx, q, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	q.Status = raised.Status
	if _, err := h.Client.CoreV1().ResourceQuotas("default").UpdateStatus(ctx, q, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	touched := h.rs(t, "kubia").DeepCopy()
	touched.Annotations = map[string]string{"touch": "1"}
	if _, err := h.Client.AppsV1().ReplicaSets("default").Update(context.Background(), touched, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(t, "kubia", "recovery", func(s appsv1.ReplicaSetStatus) bool {
		return s.Replicas == 10 && getCondition(s, appsv1.ReplicaSetReplicaFailure) == nil
	})
}

func setReady(t *testing.T, h *harness, name string) {
	t.Helper()
	p, err := h.Client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = v1.PodRunning
	p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(h.Clock.Now())}}
	if _, err := h.Client.CoreV1().Pods("default").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestAvailableAfterMinReadySeconds(t *testing.T) {
	rs := newRS("kubia", 1)
	rs.Spec.MinReadySeconds = 10
	h := start(t, forReplicaSets, []runtime.Object{rs}, nil)
	h.waitStatus(t, "kubia", "a pod", func(s appsv1.ReplicaSetStatus) bool { return s.Replicas == 1 })

	readyAt := h.Clock.Now()
	setReady(t, h, h.pods(t)[0].Name)
	// Nothing but the clock will change now, so the controller must have
	// scheduled its own re-check for when the pod becomes available.
	recheck := readyAt.Add(11 * time.Second)
	h.Eventually(t, "ready but not available, with a re-check scheduled", func() (bool, string) {
		s := h.rs(t, "kubia").Status
		return s.ReadyReplicas == 1 && s.AvailableReplicas == 0 && h.Clock.HasTimerAt(recheck),
			fmt.Sprintf("status %+v, timers %v", s, h.Clock.PendingTimers())
	})

	h.Step(10 * time.Second)
	if s := h.rs(t, "kubia").Status; s.AvailableReplicas != 0 {
		t.Fatalf("available after exactly minReadySeconds: %+v", s)
	}
	h.Step(time.Second)
	h.waitStatus(t, "kubia", "available", func(s appsv1.ReplicaSetStatus) bool { return s.AvailableReplicas == 1 })
}

func TestTerminatingPodsAreNotActive(t *testing.T) {
	dying := ownedPod("dying", readyFor(time.Hour))
	dying.DeletionTimestamp = ptr.To(metav1.NewTime(controllertest.Epoch))
	dying.Finalizers = []string{"example.com/hold"}
	h := start(t, forReplicaSets, []runtime.Object{newRS("kubia", 1), dying}, nil)
	h.waitStatus(t, "kubia", "a replacement", func(s appsv1.ReplicaSetStatus) bool {
		return s.Replicas == 1 && ptr.Deref(s.TerminatingReplicas, -1) == 1
	})
	if n := countActions(h.Cluster, "create", "pods"); n != 1 {
		t.Errorf("%d pods created, want 1 replacement for the terminating pod", n)
	}
}

func TestReplicationControllers(t *testing.T) {
	rc := &v1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "kubia-v1", Namespace: "default", UID: "rc-uid", Generation: 1},
		Spec: v1.ReplicationControllerSpec{
			Replicas: ptr.To[int32](3),
			Selector: webLabels,
			Template: &v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: webLabels},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "nodejs", Image: "luksa/kubia:v1"}}},
			},
		},
	}
	h := start(t, forReplicationControllers, []runtime.Object{rc}, nil)
	h.Eventually(t, "3 replicas", func() (bool, string) {
		got, err := h.Factory.Core().V1().ReplicationControllers().Lister().ReplicationControllers("default").Get("kubia-v1")
		if err != nil {
			return false, err.Error()
		}
		return got.Status.Replicas == 3 && got.Status.ObservedGeneration == 1, fmt.Sprintf("%+v", got.Status)
	})
	for _, p := range h.pods(t) {
		ref := metav1.GetControllerOf(p)
		if ref == nil || ref.Kind != "ReplicationController" || ref.APIVersion != "v1" || ref.UID != rc.UID || p.GenerateName != "kubia-v1-" {
			t.Errorf("pod %s: generateName %q, controller %+v", p.Name, p.GenerateName, ref)
		}
	}

	// Scaling down works the same way as for ReplicaSets.
	got, err := h.Client.CoreV1().ReplicationControllers("default").Get(context.Background(), "kubia-v1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got.Spec.Replicas = ptr.To[int32](1)
	if _, err := h.Client.CoreV1().ReplicationControllers("default").Update(context.Background(), got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.Eventually(t, "1 replica", func() (bool, string) {
		got, _ := h.Factory.Core().V1().ReplicationControllers().Lister().ReplicationControllers("default").Get("kubia-v1")
		return got.Status.Replicas == 1 && got.Status.ObservedGeneration == 2 && len(h.pods(t)) == 1, fmt.Sprintf("%+v", got.Status)
	})
}
