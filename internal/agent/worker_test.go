package agent

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestWakeAfterKeepsTheEarliestDeadline asks for wake-ups at several moments and records when
// the worker is woken, on a fake clock stepped one second at a time.
func TestWakeAfterKeepsTheEarliestDeadline(t *testing.T) {
	type request struct{ at, after time.Duration } // at: when it is asked; after: its delay
	s := time.Second
	tests := []struct {
		name     string
		requests []request
		want     []time.Duration // when the worker is woken
	}{
		{"one request", []request{{0, 10 * s}}, []time.Duration{10 * s}},
		{"a later request does not push back an earlier one", []request{{0, 10 * s}, {0, 20 * s}}, []time.Duration{10 * s}},
		{"an earlier request replaces a later one", []request{{0, 20 * s}, {0, 10 * s}}, []time.Duration{10 * s}},
		{"asked again later for a deadline past the pending one", []request{{0, 10 * s}, {5 * s, 10 * s}}, []time.Duration{10 * s}},
		{"asked again later for a deadline before the pending one", []request{{0, 10 * s}, {5 * s, 3 * s}}, []time.Duration{8 * s}},
		{"the same deadline twice wakes once", []request{{0, 10 * s}, {0, 10 * s}}, []time.Duration{10 * s}},
		{"a request after a wake-up fired is scheduled anew", []request{{0, 10 * s}, {10 * s, 5 * s}}, []time.Duration{10 * s, 15 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(t0)
			w := &podWorker{a: &Agent{clock: clk}, wake: make(chan struct{}, 1)}
			var woken []time.Duration
			for now := time.Duration(0); now <= 30*s; now += s {
				if now > 0 {
					clk.Step(s) // fires due wake-ups before returning
				}
				select {
				case <-w.wake:
					woken = append(woken, now)
				default:
				}
				for _, r := range tt.requests {
					if r.at == now {
						w.wakeAfter(r.after)
					}
				}
			}
			if !slices.Equal(woken, tt.want) {
				t.Errorf("woken at %v, want %v", woken, tt.want)
			}
		})
	}
}

func TestWorkerStartsContainersInSpecOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pod := testPod("web", testContainer("app", func(c *corev1.Container) {
			c.Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
		}), testContainer("sidecar"), testContainer("logger"))
		h.run(pod)

		if got, want := h.startedCommands(), []string{"app", "sidecar", "logger"}; !slices.Equal(got, want) {
			t.Fatalf("started %v, want %v", got, want)
		}
		api := h.pod(pod)
		if api.Status.Phase != corev1.PodRunning || api.Status.PodIP == "" || api.Status.HostIP != "127.0.0.1" {
			t.Errorf("phase %s, podIP %q, hostIP %q; want Running with both IPs", api.Status.Phase, api.Status.PodIP, api.Status.HostIP)
		}
		if api.Status.StartTime == nil || !api.Status.StartTime.Time.Equal(t0) {
			t.Errorf("startTime %v, want %v", api.Status.StartTime, t0)
		}
		if h.condition(pod, corev1.PodReady) != corev1.ConditionTrue {
			t.Errorf("pod not Ready: %+v", api.Status.Conditions)
		}
		for _, c := range pod.Spec.Containers {
			cs := h.container(pod, c.Name)
			if cs.State.Running == nil || !cs.Ready || cs.Started == nil || !*cs.Started || cs.RestartCount != 0 {
				t.Errorf("container %s: %+v, want running, started and ready", c.Name, cs)
			}
			if !strings.HasPrefix(cs.ContainerID, "skiff://") || cs.ImageID == "" {
				t.Errorf("container %s: containerID %q, imageID %q", c.Name, cs.ContainerID, cs.ImageID)
			}
		}

		app := h.running("app")
		for _, kv := range []string{"HOSTNAME=web", "POD_IP=" + api.Status.PodIP, "PORT=8080"} {
			if !slices.Contains(app.Spec.Env, kv) {
				t.Errorf("app's environment lacks %s: %v", kv, app.Spec.Env)
			}
		}
		if app.Spec.Dir != h.a.podDir(pod) {
			t.Errorf("app runs in %s, want the pod's directory %s", app.Spec.Dir, h.a.podDir(pod))
		}
		if want := filepath.Join(h.a.logDir(pod, "app"), "0.log"); app.Spec.LogPath != want {
			t.Errorf("app logs to %s, want %s", app.Spec.LogPath, want)
		}
		for _, e := range []string{"Normal Pulled", "Normal Created Created container: app", "Normal Started Started container app"} {
			h.wantEvent(e)
		}
	})
}

func TestWorkerRestartPolicy(t *testing.T) {
	tests := []struct {
		name      string
		policy    corev1.RestartPolicy
		exitCode  int
		restarted bool
		phase     corev1.PodPhase
		reason    string // of the termination
	}{
		{"Always restarts a container that completed", corev1.RestartPolicyAlways, 0, true, corev1.PodRunning, "Completed"},
		{"Always restarts a container that failed", corev1.RestartPolicyAlways, 1, true, corev1.PodRunning, "Error"},
		{"OnFailure leaves a completed container", corev1.RestartPolicyOnFailure, 0, false, corev1.PodSucceeded, "Completed"},
		{"OnFailure restarts a failed container", corev1.RestartPolicyOnFailure, 2, true, corev1.PodRunning, "Error"},
		{"Never leaves a completed container", corev1.RestartPolicyNever, 0, false, corev1.PodSucceeded, "Completed"},
		{"Never leaves a failed container and the pod fails", corev1.RestartPolicyNever, 3, false, corev1.PodFailed, "Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				pod := testPod("job", testContainer("task"))
				pod.Spec.RestartPolicy = tt.policy
				h.run(pod)
				h.step(3 * time.Second)
				h.exit("task", tt.exitCode)

				cs := h.container(pod, "task")
				term := cs.State.Terminated
				if tt.restarted {
					if cs.State.Running == nil || cs.RestartCount != 1 {
						t.Fatalf("state %+v, restarts %d; want running again after one restart", cs.State, cs.RestartCount)
					}
					term = cs.LastTerminationState.Terminated
				} else if len(h.rt.Starts()) != 1 {
					t.Fatalf("%d starts, want 1", len(h.rt.Starts()))
				}
				if term == nil || term.ExitCode != int32(tt.exitCode) || term.Reason != tt.reason ||
					!term.StartedAt.Time.Equal(t0) || !term.FinishedAt.Time.Equal(t0.Add(3*time.Second)) {
					t.Errorf("termination %+v, want exit %d (%s) from t0 to t0+3s", term, tt.exitCode, tt.reason)
				}
				if got := h.pod(pod).Status.Phase; got != tt.phase {
					t.Errorf("phase %s, want %s", got, tt.phase)
				}
			})
		})
	}
}

// TestWorkerCrashLoopBackOff: the first restart is immediate, then each waits twice as long as
// the one before, from 10s, in CrashLoopBackOff.
func TestWorkerCrashLoopBackOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pod := testPod("crash", testContainer("app"))
		h.run(pod)

		h.exit("app", 1)
		if cs := h.container(pod, "app"); cs.State.Running == nil || cs.RestartCount != 1 {
			t.Fatalf("after the first exit: %+v, want restarted at once", cs)
		}
		for i, delay := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
			h.exit("app", 1)
			cs := h.container(pod, "app")
			w := cs.State.Waiting
			want := "back-off " + delay.String() + " restarting failed container=app pod=crash_default(uid-crash)"
			if w == nil || w.Reason != reasonCrashLoopBackOff || w.Message != want {
				t.Fatalf("exit %d: state %+v, want CrashLoopBackOff %q", i+2, cs.State, want)
			}
			if l := cs.LastTerminationState.Terminated; l == nil || l.ExitCode != 1 {
				t.Errorf("exit %d: last termination %+v, want exit 1", i+2, l)
			}
			if got := h.pod(pod).Status.Phase; got != corev1.PodRunning {
				t.Errorf("crash looping pod is %s, want Running", got)
			}
			h.step(delay - time.Second)
			if _, ok := h.rt.Running("app"); ok {
				t.Fatalf("restarted %v after exit %d, before its back-off of %v", delay-time.Second, i+2, delay)
			}
			h.step(2 * time.Second)
			if cs := h.container(pod, "app"); cs.State.Running == nil || cs.RestartCount != int32(i+2) {
				t.Fatalf("back-off of %v passed: %+v, want running after %d restarts", delay, cs, i+2)
			}
		}
		h.wantEvent("Warning BackOff Back-off restarting failed container app in pod crash_default(uid-crash)")
	})
}

func TestWorkerStartFailure(t *testing.T) {
	notFound := errors.New(`exec: "app": executable file not found in $PATH`)
	t.Run("Always: start errors back off, and a start succeeds once the cause is gone", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t)
			h.rt.FailStart("app", notFound)
			pod := testPod("web", testContainer("app"))
			h.run(pod)

			// The first retry is immediate, the second waits for the back-off.
			cs := h.container(pod, "app")
			if w := cs.State.Waiting; w == nil || w.Reason != reasonCrashLoopBackOff || cs.RestartCount != 1 {
				t.Fatalf("state %+v, restarts %d; want CrashLoopBackOff after one retry", cs.State, cs.RestartCount)
			}
			if l := cs.LastTerminationState.Terminated; l == nil || l.Reason != reasonStartError || l.ExitCode != 128 || l.Message != notFound.Error() {
				t.Errorf("last termination %+v, want StartError 128 %q", l, notFound)
			}
			h.wantEvent("Warning Failed Error: " + notFound.Error())

			h.rt.FailStart("app", nil)
			h.step(11 * time.Second)
			if cs := h.container(pod, "app"); cs.State.Running == nil || cs.RestartCount != 2 {
				t.Errorf("state %+v, restarts %d; want running after two restarts", cs.State, cs.RestartCount)
			}
		})
	})
	t.Run("Never: a start error fails the pod", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t)
			h.rt.FailStart("app", notFound)
			pod := testPod("once", testContainer("app"))
			pod.Spec.RestartPolicy = corev1.RestartPolicyNever
			h.run(pod)
			cs := h.container(pod, "app")
			if term := cs.State.Terminated; term == nil || term.Reason != reasonStartError || term.ExitCode != 128 {
				t.Errorf("state %+v, want terminated with StartError", cs.State)
			}
			if got := h.pod(pod).Status.Phase; got != corev1.PodFailed {
				t.Errorf("phase %s, want Failed", got)
			}
		})
	})
}

// TestWorkerWaitsForImageAndConfig: a missing image and a missing ConfigMap keep the container
// waiting, with the kubelet's reasons, and it starts once they exist.
func TestWorkerWaitsForImageAndConfig(t *testing.T) {
	t.Run("image not in the store", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t)
			pod := testPod("web", testContainer("app", func(c *corev1.Container) { c.Image = "example/app:v1" }))
			h.run(pod)
			if w := h.container(pod, "app").State.Waiting; w == nil || w.Reason != reasonErrImagePull || w.Message != pullMessage("example/app:v1") {
				t.Fatalf("waiting %+v, want ErrImagePull", w)
			}
			h.wantEvent(`Warning Failed Failed to pull image "example/app:v1"`)

			h.update(pod) // a sync before the back-off has passed
			if w := h.container(pod, "app").State.Waiting; w == nil || w.Reason != reasonImagePullBackOff {
				t.Fatalf("waiting %+v, want ImagePullBackOff", w)
			}

			src := t.TempDir()
			if err := os.WriteFile(filepath.Join(src, "app"), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := h.a.opts.Images.Import("example/app:v1", src, []string{"./app"}, nil, nil, t0); err != nil {
				t.Fatal(err)
			}
			h.step(11 * time.Second)
			cs := h.container(pod, "app")
			if cs.State.Running == nil || cs.RestartCount != 0 {
				t.Fatalf("state %+v, restarts %d; want running, never restarted", cs.State, cs.RestartCount)
			}
			if dir := h.running("app").Spec.Dir; !strings.HasSuffix(dir, "rootfs") {
				t.Errorf("an imported image's container runs in %s, want the image's rootfs", dir)
			}
		})
	})
	t.Run("ConfigMap of an env var missing", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t)
			pod := testPod("web", testContainer("app", func(c *corev1.Container) {
				c.Env = []corev1.EnvVar{{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "greeting"}}}}
			}))
			h.run(pod)
			if w := h.container(pod, "app").State.Waiting; w == nil || w.Reason != reasonConfigError || w.Message != `configmap "cfg" not found` {
				t.Fatalf("waiting %+v, want CreateContainerConfigError", w)
			}
			if got := h.pod(pod).Status.Phase; got != corev1.PodPending {
				t.Errorf("phase %s, want Pending", got)
			}

			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"greeting": "hi"}}
			if _, err := h.client.CoreV1().ConfigMaps("default").Create(h.ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			h.step(10 * time.Second)
			if !slices.Contains(h.running("app").Spec.Env, "GREETING=hi") {
				t.Errorf("env %v lacks GREETING=hi", h.running("app").Spec.Env)
			}
		})
	})
}

// TestWorkerAdoptsAnEarlierAgentsPod: a container the API says was running died with the agent
// that ran it; the new agent reports it as such and restarts it, continuing the restart count.
func TestWorkerAdoptsAnEarlierAgentsPod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pod := testPod("web", testContainer("app"))
		started := metav1.NewTime(t0.Add(-time.Hour))
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.64.0.7", StartTime: &started,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "luksa/kubia:v1", RestartCount: 3,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}}}
		h.run(pod)

		cs := h.container(pod, "app")
		if cs.State.Running == nil || cs.RestartCount != 4 {
			t.Fatalf("state %+v, restarts %d; want running again after 4 restarts", cs.State, cs.RestartCount)
		}
		if l := cs.LastTerminationState.Terminated; l == nil || l.Reason != "Unknown" || l.ExitCode != 255 || !l.StartedAt.Equal(&started) {
			t.Errorf("last termination %+v, want Unknown 255 since the earlier start", l)
		}
		api := h.pod(pod)
		if api.Status.PodIP != "127.64.0.7" || !api.Status.StartTime.Equal(&started) {
			t.Errorf("podIP %s, startTime %v; want the pod's own kept", api.Status.PodIP, api.Status.StartTime)
		}
	})
}

func TestWorkerRestartsAContainerWhoseImageChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pod := testPod("web", testContainer("app"), testContainer("sidecar"))
		pod.Spec.TerminationGracePeriodSeconds = int64p(7)
		h.run(pod)
		old := h.running("app")

		pod = h.pod(pod)
		pod.Spec.Containers[0].Image = "luksa/kubia:v2"
		h.update(pod)

		if stops := h.rt.Stops(); len(stops) != 1 || stops[0].ID != old.ID || stops[0].Grace != 7*time.Second {
			t.Fatalf("stops %+v, want app's old instance with the pod's grace of 7s", stops)
		}
		h.wantEvent("Normal Killing Container app definition changed, will be restarted")
		cs := h.container(pod, "app")
		if cs.State.Running == nil || cs.Image != "luksa/kubia:v2" || cs.RestartCount != 1 {
			t.Errorf("app: %+v, want running v2 after a restart", cs)
		}
		if cs := h.container(pod, "sidecar"); cs.State.Running == nil || cs.RestartCount != 0 {
			t.Errorf("sidecar: %+v, want left running", cs)
		}
	})
}

func TestWorkerStopsContainersWhenTheAgentStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.a.opts.ShutdownGrace = 3 * time.Second
		h.run(testPod("web", testContainer("app"), testContainer("sidecar")))

		h.stopAgent()
		stops := h.rt.Stops()
		if len(stops) != 2 {
			t.Fatalf("stops %+v, want both containers", stops)
		}
		for _, s := range stops {
			if s.Grace != 3*time.Second {
				t.Errorf("%s stopped with grace %v, want the shutdown grace of 3s", s.Command, s.Grace)
			}
		}
	})
}
