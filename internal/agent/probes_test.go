package agent

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-dev/skiff/internal/agent/runtimetest"
)

// checks answers exec probes and hooks by their command: a check passes while it is set to true.
type checks struct {
	mu    sync.Mutex // guards the fields below
	pass  map[string]bool
	calls map[string]int
}

func newChecks(h *harness) *checks {
	c := &checks{pass: map[string]bool{}, calls: map[string]int{}}
	h.rt.SetExec(func(_ context.Context, _ runtimetest.Container, argv []string) ([]byte, int, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.calls[argv[0]]++
		if c.pass[argv[0]] {
			return nil, 0, nil
		}
		return []byte(argv[0] + " failed"), 1, nil
	})
	return c
}

func (c *checks) set(name string, pass bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pass[name] = pass
}

func (c *checks) count(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[name]
}

func execProbe(command string, period, failureThreshold int32) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: execHandler(command), PeriodSeconds: period,
		FailureThreshold: failureThreshold, SuccessThreshold: 1, TimeoutSeconds: 1}
}

func TestWorkerReadinessProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		checks := newChecks(h)
		pod := testPod("web", testContainer("app", func(c *corev1.Container) { c.ReadinessProbe = execProbe("ready?", 5, 2) }))
		h.run(pod)

		if cs := h.container(pod, "app"); cs.State.Running == nil || cs.Ready || !*cs.Started {
			t.Fatalf("%+v, want running, started and not ready before a probe succeeded", cs)
		}
		if h.condition(pod, corev1.PodReady) != corev1.ConditionFalse {
			t.Errorf("pod Ready before its container")
		}
		h.wantEvent("Warning Unhealthy Readiness probe failed: ready? failed")

		checks.set("ready?", true)
		h.step(5 * time.Second)
		if !h.container(pod, "app").Ready || h.condition(pod, corev1.PodReady) != corev1.ConditionTrue {
			t.Fatalf("not ready after a successful probe")
		}

		checks.set("ready?", false)
		h.step(5 * time.Second)
		if !h.container(pod, "app").Ready {
			t.Fatalf("unready after one failure of failureThreshold 2")
		}
		h.step(5 * time.Second)
		if h.container(pod, "app").Ready || h.condition(pod, corev1.PodReady) != corev1.ConditionFalse {
			t.Errorf("still ready after two failures")
		}
		if len(h.rt.Stops()) != 0 {
			t.Errorf("a failing readiness probe stopped the container: %+v", h.rt.Stops())
		}
	})
}

func TestWorkerLivenessProbeRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		checks := newChecks(h)
		checks.set("alive?", true)
		pod := testPod("web", testContainer("app", func(c *corev1.Container) {
			c.LivenessProbe = execProbe("alive?", 10, 1)
			c.LivenessProbe.InitialDelaySeconds = 10
			c.LivenessProbe.TerminationGracePeriodSeconds = int64p(4)
		}))
		pod.Spec.TerminationGracePeriodSeconds = int64p(30)
		h.run(pod)
		h.step(10 * time.Second)
		if checks.count("alive?") != 1 || len(h.rt.Stops()) != 0 {
			t.Fatalf("%d probes, stops %+v; want one passing probe after initialDelaySeconds", checks.count("alive?"), h.rt.Stops())
		}

		first := h.running("app")
		checks.set("alive?", false)
		h.step(10 * time.Second)
		if stops := h.rt.Stops(); len(stops) != 1 || stops[0].ID != first.ID || stops[0].Grace != 4*time.Second {
			t.Fatalf("stops %+v, want the first instance with the probe's grace of 4s", stops)
		}
		h.wantEvent("Normal Killing Container app failed liveness probe, will be restarted")
		cs := h.container(pod, "app")
		if cs.State.Running == nil || cs.RestartCount != 1 {
			t.Fatalf("%+v, want running again after one restart", cs)
		}
		if l := cs.LastTerminationState.Terminated; l == nil || l.ExitCode != 143 {
			t.Errorf("last termination %+v, want exit 143 (SIGTERM)", l)
		}
	})
}

func TestWorkerStartupProbe(t *testing.T) {
	startupPod := func() *corev1.Pod {
		return testPod("web", testContainer("app", func(c *corev1.Container) {
			c.StartupProbe = execProbe("started?", 1, 3)
			c.ReadinessProbe = execProbe("ready?", 1, 1)
			c.LivenessProbe = execProbe("alive?", 1, 1)
		}))
	}
	t.Run("readiness and liveness wait for it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t)
			checks := newChecks(h)
			checks.set("ready?", true)
			checks.set("alive?", true)
			pod := startupPod()
			h.run(pod)
			h.step(time.Second)
			if cs := h.container(pod, "app"); *cs.Started || cs.Ready {
				t.Fatalf("%+v, want neither started nor ready", cs)
			}
			if n, m := checks.count("ready?"), checks.count("alive?"); n != 0 || m != 0 {
				t.Fatalf("%d readiness and %d liveness probes before the startup probe passed", n, m)
			}

			checks.set("started?", true)
			h.step(time.Second)
			if cs := h.container(pod, "app"); !*cs.Started {
				t.Fatalf("%+v, want started", cs)
			}
			h.step(time.Second)
			if cs := h.container(pod, "app"); !cs.Ready || checks.count("alive?") == 0 {
				t.Errorf("%+v after %d liveness probes, want ready and probed for liveness", cs, checks.count("alive?"))
			}
		})
	})
	t.Run("a container that never starts is restarted", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t)
			newChecks(h)
			pod := startupPod()
			h.run(pod)
			h.step(time.Second)
			h.step(time.Second) // the third failure, of failureThreshold 3
			if stops := h.rt.Stops(); len(stops) != 1 {
				t.Fatalf("stops %+v, want one", stops)
			}
			h.wantEvent("Normal Killing Container app failed startup probe, will be restarted")
			if cs := h.container(pod, "app"); cs.State.Running == nil || cs.RestartCount != 1 || *cs.Started {
				t.Errorf("%+v, want running again after one restart, not started", cs)
			}
		})
	})
}

func TestWorkerPostStartHook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		// The hook fails in the first instance only.
		var runs atomic.Int32
		h.rt.SetExec(func(_ context.Context, _ runtimetest.Container, argv []string) ([]byte, int, error) {
			if argv[0] != "post-start" || runs.Add(1) > 1 {
				return nil, 0, nil
			}
			return []byte("hook failed"), 1, nil
		})
		pod := testPod("web", testContainer("app", func(c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"post-start"}}}}
		}))
		pod.Spec.TerminationGracePeriodSeconds = int64p(12)
		h.run(pod)

		h.wantEvent("Warning FailedPostStartHook PostStartHook failed: ")
		if stops := h.rt.Stops(); len(stops) != 1 || stops[0].Grace != 12*time.Second {
			t.Fatalf("stops %+v, want the first instance stopped with the pod's grace", stops)
		}
		if cs := h.container(pod, "app"); cs.State.Running == nil || cs.RestartCount != 1 {
			t.Errorf("%+v, want running after one restart", cs)
		}
	})
}
