package agent

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/skiff-dev/skiff/internal/agent/runtimetest"
)

// markDeleted does what the API server does for a graceful delete: it sets the pod's
// deletionTimestamp and deletionGracePeriodSeconds (the pod's own grace when grace is nil).
func markDeleted(h *harness, pod *corev1.Pod, grace *int64) {
	h.t.Helper()
	pod = h.pod(pod)
	now := metav1.NewTime(h.clock.Now())
	pod.DeletionTimestamp = &now
	pod.DeletionGracePeriodSeconds = grace
	if grace == nil {
		pod.DeletionGracePeriodSeconds = pod.Spec.TerminationGracePeriodSeconds
	}
	h.update(pod)
}

func TestWorkerTerminatesADeletedPod(t *testing.T) {
	sleep := func(s int64) *corev1.LifecycleHandler {
		return &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: s}}
	}
	exec := &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"pre-stop"}}}
	tests := []struct {
		name          string
		deletionGrace *int64 // nil: the pod's 30s
		preStop       *corev1.LifecycleHandler
		hookTakes     time.Duration // how far the exec hook moves the clock
		hookFails     bool
		sleepFor      time.Duration // how far the test moves the clock while the pod stops
		wantGrace     time.Duration
		wantEvent     string
		wantHookRuns  int32
	}{
		{name: "no preStop hook: SIGTERM with the pod's grace period", wantGrace: 30 * time.Second},
		{name: "the delete's grace period overrides the pod's", deletionGrace: int64p(10), wantGrace: 10 * time.Second},
		{name: "a preStop hook's time comes out of the grace period", preStop: exec, hookTakes: 25 * time.Second,
			wantGrace: 5 * time.Second, wantHookRuns: 1},
		{name: "a preStop hook that outlasts the grace period still leaves SIGTERM 2s", preStop: exec,
			hookTakes: 29 * time.Second, wantGrace: 2 * time.Second, wantHookRuns: 1},
		{name: "a failed preStop hook is reported and the container stopped all the same", preStop: exec, hookFails: true,
			wantGrace: 30 * time.Second, wantEvent: "Warning FailedPreStopHook PreStopHook failed: ", wantHookRuns: 1},
		{name: "a sleep hook waits on the agent's clock", preStop: sleep(5), sleepFor: 5 * time.Second, wantGrace: 25 * time.Second},
		{name: "a zero grace period skips the preStop hook", deletionGrace: int64p(0), preStop: exec, wantGrace: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				var hookRuns atomic.Int32
				h.rt.SetExec(func(_ context.Context, _ runtimetest.Container, argv []string) ([]byte, int, error) {
					hookRuns.Add(1)
					h.clock.Step(tt.hookTakes)
					if tt.hookFails {
						return []byte("no"), 1, nil
					}
					return nil, 0, nil
				})
				// Before any container is signalled, the API must have the pod unready.
				var readyAtStop corev1.ConditionStatus
				stopsAtStop := -1
				h.a.opts.BeforeStop = func(context.Context, net.IP) error {
					readyAtStop, stopsAtStop = h.condition(h.pod(testPod("web")), corev1.PodReady), len(h.rt.Stops())
					return nil
				}
				pod := testPod("web", testContainer("app", func(c *corev1.Container) {
					c.Lifecycle = &corev1.Lifecycle{PreStop: tt.preStop}
				}))
				pod.Spec.TerminationGracePeriodSeconds = int64p(30)
				h.run(pod)
				if h.condition(pod, corev1.PodReady) != corev1.ConditionTrue {
					t.Fatal("pod not ready before its deletion")
				}

				markDeleted(h, pod, tt.deletionGrace)
				if tt.sleepFor > 0 {
					h.step(tt.sleepFor)
				}

				if readyAtStop != corev1.ConditionFalse || stopsAtStop != 0 {
					t.Errorf("before the stop: Ready %s with %d containers stopped, want False and none", readyAtStop, stopsAtStop)
				}
				if stops := h.rt.Stops(); len(stops) != 1 || stops[0].Grace != tt.wantGrace {
					t.Errorf("stops %+v, want one with grace %v", stops, tt.wantGrace)
				}
				if n := hookRuns.Load(); n != tt.wantHookRuns {
					t.Errorf("preStop exec ran %d times, want %d", n, tt.wantHookRuns)
				}
				if tt.wantEvent != "" {
					h.wantEvent(tt.wantEvent)
				}
				h.wantEvent("Normal Killing Stopping container app")
				wantDeletedAtOnce(t, h, pod)
			})
		})
	}
}

// wantDeletedAtOnce checks that the agent deleted pod from the API with grace 0 and its UID as
// precondition, as kubelets do once its containers have stopped.
func wantDeletedAtOnce(t *testing.T, h *harness, pod *corev1.Pod) {
	t.Helper()
	if _, err := h.client.CoreV1().Pods(pod.Namespace).Get(h.ctx, pod.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod still in the API (err %v)", err)
	}
	for _, a := range h.client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && d.GetResource().Resource == "pods" {
			o := d.GetDeleteOptions()
			if o.GracePeriodSeconds == nil || *o.GracePeriodSeconds != 0 || o.Preconditions == nil || *o.Preconditions.UID != pod.UID {
				t.Errorf("delete options %+v, want grace 0 and the pod's UID as precondition", o)
			}
			return
		}
	}
	t.Error("no pod delete action recorded")
}

func TestWorkerGracePeriodEndsInSIGKILL(t *testing.T) {
	t.Run("a container that ignores SIGTERM is killed once the grace period is over", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t)
			h.rt.IgnoreTerm("app")
			pod := testPod("web", testContainer("app"))
			h.run(pod)
			markDeleted(h, pod, int64p(20))

			h.step(19 * time.Second)
			if _, ok := h.rt.Running("app"); !ok {
				t.Fatal("killed before the end of its grace period")
			}
			h.step(time.Second)
			if _, ok := h.rt.Running("app"); ok {
				t.Fatal("still running after its grace period")
			}
			wantDeletedAtOnce(t, h, pod)
		})
	})
	t.Run("a pod gone from the API has its containers killed at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t)
			h.rt.IgnoreTerm("app")
			pod := testPod("web", testContainer("app"))
			h.run(pod)
			ip := h.pod(pod).Status.PodIP
			markDeleted(h, pod, int64p(30))

			// Deleted by force, e.g. with --grace-period=0 --force: the informer reports it gone.
			h.a.podDeleted(h.pod(pod))
			h.settle()
			if _, ok := h.rt.Running("app"); ok {
				t.Fatal("still running after the pod left the API")
			}
			if st, ok := h.rt.State(h.rt.Starts()[0].ID); ok {
				t.Errorf("container not removed from the runtime: %+v", st)
			}
			h.a.mu.Lock()
			workers := len(h.a.workers)
			h.a.mu.Unlock()
			if workers != 0 {
				t.Errorf("%d pod workers left, want none", workers)
			}
			if got, err := h.a.ips.Allocate("uid-next", ip); err != nil || got != ip {
				t.Errorf("the pod's IP %s was not released: got %s, %v", ip, got, err)
			}
		})
	})
}
