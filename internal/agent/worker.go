package agent

import (
	"context"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// podWorker runs one pod: it starts and restarts its containers, stops them when the pod is
// deleted, and publishes its status. Everything it does happens in sync, called from its own
// goroutine whenever something changed (the pod, a container's exit, a probe result, a timer).
type podWorker struct {
	a   *Agent
	uid types.UID
	log *slog.Logger

	wake chan struct{} // capacity 1: wake-ups coalesce

	// killCtx is cancelled when the pod is gone from the API: containers still stopping are
	// killed at once.
	killCtx    context.Context
	killCancel context.CancelFunc

	mu      sync.Mutex // guards pod, removed, logRefs and the probe-fed fields of ctrs
	pod     *corev1.Pod
	removed bool
	logRefs map[string]logRef // by container name, for the log endpoint

	// Owned by the worker's goroutine.
	ctrs        map[string]*ctrRecord
	podIP       string
	startTime   time.Time
	terminating bool        // the pod is being deleted; no more starts
	deleted     bool        // stopped and deleted from the API
	timer       clock.Timer // the pending wake-up, due at wakeAt
	wakeAt      time.Time
	probes      sync.WaitGroup
}

// ctrRecord is one container of the pod across its restarts.
type ctrRecord struct {
	name         string
	id           string // runtime ID of the current or last instance
	running      bool
	startedAt    time.Time
	restartCount int32
	hasRun       bool // an instance existed before (here or under an earlier agent)
	specImage    string
	imageID      string
	waiting      *corev1.ContainerStateWaiting
	term         *corev1.ContainerStateTerminated // how the current instance ended
	last         *corev1.ContainerStateTerminated // how the previous instance ended
	pullFailedAt time.Time
	pullErr      string // why the last pull failed
	stopProbes   context.CancelFunc

	// Written by probe workers under podWorker.mu.
	ready, started                 bool
	livenessFailed, startupFailed  bool
	hasReadiness, hasStartupProbes bool
}

// nextRestartCount is the restart count of the container's next instance.
func (r *ctrRecord) nextRestartCount() int32 {
	if r.hasRun {
		return r.restartCount + 1
	}
	return r.restartCount
}

func newPodWorker(a *Agent, pod *corev1.Pod) *podWorker {
	w := &podWorker{a: a, uid: pod.UID, pod: pod, wake: make(chan struct{}, 1), ctrs: map[string]*ctrRecord{}, logRefs: map[string]logRef{},
		log: a.log.With("pod", pod.Namespace+"/"+pod.Name)}
	w.killCtx, w.killCancel = context.WithCancel(context.Background())
	w.adopt(pod)
	return w
}

// adopt takes over what the API says about the pod's containers from an earlier agent: restart
// counts continue, and a container it had running is gone now (it died with that agent).
func (w *podWorker) adopt(pod *corev1.Pod) {
	if pod.Status.StartTime != nil {
		w.startTime = pod.Status.StartTime.Time
	}
	for _, cs := range pod.Status.ContainerStatuses {
		r := &ctrRecord{name: cs.Name, restartCount: cs.RestartCount, specImage: cs.Image, imageID: cs.ImageID}
		r.last = cs.LastTerminationState.Terminated
		switch {
		case cs.State.Terminated != nil:
			r.term, r.hasRun = cs.State.Terminated.DeepCopy(), true
		case cs.State.Running != nil:
			r.hasRun = true
			r.term = &corev1.ContainerStateTerminated{ExitCode: 255, Reason: "Unknown",
				Message:   "The container could not be located when the node agent restarted",
				StartedAt: cs.State.Running.StartedAt, FinishedAt: metav1.NewTime(w.a.clock.Now().Truncate(time.Second))}
		case cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil:
			r.hasRun = true
			r.term, r.last = cs.LastTerminationState.Terminated.DeepCopy(), nil
		}
		w.ctrs[cs.Name] = r
	}
}

// update hands the worker the pod's latest version.
func (w *podWorker) update(pod *corev1.Pod) {
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	w.kick()
}

// remove tells the worker the pod is gone from the API.
func (w *podWorker) remove() {
	w.mu.Lock()
	w.removed = true
	w.mu.Unlock()
	w.killCancel()
	w.kick()
}

func (w *podWorker) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// wakeAfter schedules a sync after d on the agent's clock. The earliest wake-up wins: a request
// due after one still pending is dropped (the earlier sync asks again for what is still due
// then), and an earlier one replaces it. A wake-up already due is left to fire.
func (w *podWorker) wakeAfter(d time.Duration) {
	now := w.a.clock.Now()
	at := now.Add(d)
	if w.timer != nil && w.wakeAt.After(now) {
		if !at.Before(w.wakeAt) {
			return
		}
		w.timer.Stop()
	}
	w.wakeAt = at
	w.timer = w.a.clock.AfterFunc(d, w.kick)
}

// run syncs the pod until it is gone or ctx ends; at shutdown it stops its containers quickly.
func (w *podWorker) run(ctx context.Context) {
	defer func() {
		if w.timer != nil {
			w.timer.Stop()
		}
		for _, r := range w.ctrs {
			if r.stopProbes != nil {
				r.stopProbes()
			}
		}
		w.probes.Wait()
		w.killCancel()
	}()
	w.kick()
	for {
		select {
		case <-ctx.Done():
			w.shutdown()
			return
		case <-w.wake:
		}
		if done := w.sync(ctx); done {
			return
		}
	}
}

// shutdown stops the pod's containers as the agent stops: SIGTERM, SIGKILL after a short grace.
func (w *podWorker) shutdown() {
	grace := w.a.opts.ShutdownGrace
	var wg sync.WaitGroup
	for _, r := range w.ctrs {
		if r.running {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = w.a.runtime.Stop(context.Background(), r.id, grace)
			}()
		}
	}
	wg.Wait()
}

func (w *podWorker) snapshot() (*corev1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.removed
}

// sync moves the pod one step toward what its spec and deletion state ask for and publishes its
// status. It reports true when the worker is done (the pod is gone).
func (w *podWorker) sync(ctx context.Context) bool {
	pod, removed := w.snapshot()
	w.observeExits()

	if removed {
		w.stopAll(w.killCtx, 0, "")
		w.cleanup(pod)
		return true
	}
	if w.deleted {
		return false // waiting for the informer to see the deletion
	}
	if pod.DeletionTimestamp != nil {
		w.terminate(ctx, pod)
		return false
	}
	if w.startTime.IsZero() {
		w.startTime = w.a.clock.Now()
	}
	if w.podIP == "" {
		ip, err := w.a.ips.Allocate(pod.UID, pod.Status.PodIP)
		if err != nil {
			w.log.Error("allocating pod IP", "err", err)
			w.a.event(pod, "", corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
			w.wakeAfter(10 * time.Second)
			w.publish(pod)
			return false
		}
		w.podIP = ip
	}
	if terminal(pod) {
		w.publish(pod)
		return false
	}
	// The pod's IP must be in its status before containers read it (POD_IP, status.podIP).
	podWithIP := pod.DeepCopy()
	podWithIP.Status.PodIP = w.podIP
	podWithIP.Status.HostIP = w.a.opts.NodeIP.String()
	for i := range pod.Spec.Containers {
		w.syncContainer(ctx, podWithIP, &pod.Spec.Containers[i])
		if ctx.Err() != nil {
			return false
		}
	}
	w.publish(pod)
	return false
}

func terminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}
