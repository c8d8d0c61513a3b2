package agent

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-dev/skiff/internal/agent/process"
)

// observeExits records the end of containers that exited since the last sync.
func (w *podWorker) observeExits() {
	for _, r := range w.ctrs {
		if !r.running {
			continue
		}
		st, ok := w.a.runtime.State(r.id)
		if ok && st.Running {
			continue
		}
		w.recordExit(r, st, ok)
	}
}

func (w *podWorker) recordExit(r *ctrRecord, st process.State, known bool) {
	r.running = false
	if r.stopProbes != nil {
		r.stopProbes()
		r.stopProbes = nil
	}
	w.mu.Lock()
	r.ready, r.started = false, false
	w.mu.Unlock()
	term := &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error", StartedAt: truncTime(r.startedAt),
		FinishedAt: truncTime(w.a.clock.Now()), ContainerID: "skiff://" + r.id}
	if known {
		term.ExitCode = int32(st.ExitCode)
		term.Reason = st.Reason
		term.Message = st.Message
		term.FinishedAt = truncTime(st.FinishedAt)
		if st.Signal != 0 {
			term.Signal = int32(st.Signal)
		}
	}
	r.term = term
	w.a.runtime.Remove(r.id)
}

// syncContainer starts, restarts or kills one container as its state and the pod's restart
// policy ask.
func (w *podWorker) syncContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container) {
	r := w.ctrs[c.Name]
	if r == nil {
		r = &ctrRecord{name: c.Name, specImage: c.Image}
		w.ctrs[c.Name] = r
	}
	if r.running {
		w.mu.Lock()
		liveFailed, startFailed := r.livenessFailed, r.startupFailed
		w.mu.Unlock()
		var why string
		switch {
		case startFailed:
			why = fmt.Sprintf("Container %s failed startup probe, will be restarted", c.Name)
		case liveFailed:
			why = fmt.Sprintf("Container %s failed liveness probe, will be restarted", c.Name)
		case r.specImage != c.Image:
			why = fmt.Sprintf("Container %s definition changed, will be restarted", c.Name)
		default:
			return
		}
		w.a.event(pod, c.Name, corev1.EventTypeNormal, "Killing", "%s", why)
		w.stopContainer(w.killCtx, pod, c, r, probeGrace(pod, c, startFailed, liveFailed))
		st, ok := w.a.runtime.State(r.id)
		w.recordExit(r, st, ok)
		// A container killed for its probes is restarted as if it had crashed.
	}

	key := string(pod.UID) + "/" + c.Name
	if r.term != nil || r.hasRun {
		if r.term != nil && !shouldRestart(pod.Spec.RestartPolicy, r.term.ExitCode) {
			r.waiting = nil
			return
		}
		if r.term != nil {
			if in, left := w.a.backoff.InBackoffSince(key, r.term.FinishedAt.Time); in {
				delay := w.a.backoff.Delay(key)
				r.waiting = &corev1.ContainerStateWaiting{Reason: reasonCrashLoopBackOff,
					Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", delay, c.Name, formatPod(pod))}
				w.a.event(pod, c.Name, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s", c.Name, formatPod(pod))
				w.wakeAfter(left + 10*time.Millisecond)
				return
			}
			w.a.backoff.Next(key, r.term.FinishedAt.Time)
		}
	}
	w.startContainer(ctx, pod, c, r, key)
}

func shouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// formatPod is how kubelets name a pod in messages: name_namespace(uid).
func formatPod(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

// probeGrace is the grace period for a container killed by a failed probe.
func probeGrace(pod *corev1.Pod, c *corev1.Container, startup, liveness bool) time.Duration {
	var p *corev1.Probe
	switch {
	case startup:
		p = c.StartupProbe
	case liveness:
		p = c.LivenessProbe
	}
	if p != nil && p.TerminationGracePeriodSeconds != nil {
		return time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
	}
	return specGrace(pod)
}

func specGrace(pod *corev1.Pod) time.Duration {
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return corev1.DefaultTerminationGracePeriodSeconds * time.Second
}
