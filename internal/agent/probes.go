package agent

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-dev/skiff/internal/agent/probe"
)

// startProbes starts the probe workers of a new container instance.
func (w *podWorker) startProbes(pod *corev1.Pod, c *corev1.Container, r *ctrRecord) {
	ctx, cancel := context.WithCancel(context.Background())
	r.stopProbes = cancel
	w.mu.Lock()
	r.hasReadiness, r.hasStartupProbes = c.ReadinessProbe != nil, c.StartupProbe != nil
	r.ready = c.ReadinessProbe == nil
	r.started = c.StartupProbe == nil
	r.livenessFailed, r.startupFailed = false, false
	w.mu.Unlock()

	id := r.id
	target := probe.Target{PodIP: pod.Status.PodIP, Container: c,
		Exec: func(ctx context.Context, argv []string) ([]byte, int, error) {
			return w.a.runtime.Exec(ctx, id, argv)
		}}
	started := func() bool { w.mu.Lock(); defer w.mu.Unlock(); return r.started }
	spawn := func(kind probe.Kind, p *corev1.Probe, onResult func(probe.Result)) {
		if p == nil {
			return
		}
		wk := &probe.Worker{Kind: kind, Probe: p, Target: target, StartedAt: r.startedAt, Clock: w.a.clock,
			OnResult: func(res probe.Result) {
				w.mu.Lock()
				onResult(res)
				w.mu.Unlock()
				w.kick()
			},
			OnFailure: func(msg string) {
				w.a.event(pod, c.Name, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", kind, msg)
			},
		}
		if kind != probe.Startup {
			wk.Gate = started
		}
		w.probes.Add(1)
		go func() { defer w.probes.Done(); wk.Run(ctx) }()
	}
	spawn(probe.Startup, c.StartupProbe, func(res probe.Result) {
		r.started = res == probe.Success
		r.startupFailed = res == probe.Failure
	})
	spawn(probe.Readiness, c.ReadinessProbe, func(res probe.Result) { r.ready = res == probe.Success })
	spawn(probe.Liveness, c.LivenessProbe, func(res probe.Result) { r.livenessFailed = res == probe.Failure })
}

// runHook runs a postStart or preStop handler within timeout; it reports a message and whether
// it succeeded.
func (w *podWorker) runHook(ctx context.Context, pod *corev1.Pod, c *corev1.Container, r *ctrRecord, h *corev1.LifecycleHandler, timeout time.Duration) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket},
		TimeoutSeconds: int32(timeout / time.Second)}
	if h.Sleep != nil {
		t := w.a.clock.NewTimer(time.Duration(h.Sleep.Seconds) * time.Second)
		defer t.Stop()
		select {
		case <-t.C():
		case <-ctx.Done():
		}
		return "", true
	}
	id := r.id
	res, msg := probe.Run(ctx, p, probe.Target{PodIP: pod.Status.PodIP, Container: c,
		Exec: func(ctx context.Context, argv []string) ([]byte, int, error) { return w.a.runtime.Exec(ctx, id, argv) }})
	return msg, res == probe.Success
}
