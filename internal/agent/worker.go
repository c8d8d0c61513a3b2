package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/internal/agent/images"
	"github.com/skiff-dev/skiff/internal/agent/probe"
	"github.com/skiff-dev/skiff/internal/agent/process"
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
	stopProbes   context.CancelFunc
	logPath      string

	// Written by probe workers under podWorker.mu.
	ready, started                 bool
	livenessFailed, startupFailed  bool
	hasReadiness, hasStartupProbes bool
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

// startContainer resolves the image, builds the environment and starts one instance.
func (w *podWorker) startContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, r *ctrRecord, key string) {
	now := w.a.clock.Now()
	pullKey := key + "/pull"
	if !r.pullFailedAt.IsZero() {
		if in, left := w.a.backoff.InBackoffSince(pullKey, r.pullFailedAt); in {
			r.waiting = &corev1.ContainerStateWaiting{Reason: reasonImagePullBackOff,
				Message: fmt.Sprintf("Back-off pulling image %q: %s", c.Image, pullMessage(c.Image))}
			w.a.event(pod, c.Name, corev1.EventTypeNormal, "BackOff", "Back-off pulling image %q", c.Image)
			w.wakeAfter(left + 10*time.Millisecond)
			return
		}
	}
	img, err := w.a.opts.Images.Resolve(c.Image)
	if err != nil {
		w.a.backoff.Next(pullKey, now)
		r.pullFailedAt = now
		msg := pullMessage(c.Image)
		if !errors.Is(err, images.ErrNotFound) {
			msg = err.Error()
		}
		r.waiting = &corev1.ContainerStateWaiting{Reason: reasonErrImagePull, Message: msg}
		w.a.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %s", c.Image, msg)
		w.a.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: %s", reasonErrImagePull)
		w.wakeAfter(w.a.backoff.Delay(pullKey) + 10*time.Millisecond)
		return
	}
	if !r.pullFailedAt.IsZero() {
		r.pullFailedAt = time.Time{}
		w.a.backoff.Reset(pullKey)
	}
	w.a.event(pod, c.Name, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)

	env, err := containerEnv(ctx, &envSource{client: w.a.client, services: w.a.opts.Services}, pod, c, img.Env, w.a.node())
	if err != nil {
		r.waiting = &corev1.ContainerStateWaiting{Reason: reasonConfigError, Message: err.Error()}
		w.a.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: %s", err)
		cfgKey := key + "/config"
		w.a.backoff.Next(cfgKey, now)
		w.wakeAfter(w.a.backoff.Delay(cfgKey))
		return
	}
	w.a.backoff.Reset(key + "/config")
	lookup := func(k string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if len(env[i]) > len(k) && env[i][len(k)] == '=' && env[i][:len(k)] == k {
				return env[i][len(k)+1:], true
			}
		}
		return "", false
	}
	argv := commandLine(c, img, lookup)
	dir := w.a.podDir(pod)
	if img.Dir != "" {
		dir = img.Dir
	}
	if c.WorkingDir != "" {
		if img.Dir != "" {
			dir = filepath.Join(img.Dir, c.WorkingDir)
		} else {
			dir = c.WorkingDir
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.log.Warn("creating working directory", "dir", dir, "err", err)
	}

	restartCount := r.restartCount
	if r.hasRun {
		restartCount++
	}
	logDir := w.a.logDir(pod, c.Name)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		w.log.Warn("creating log directory", "dir", logDir, "err", err)
	}
	logPath := filepath.Join(logDir, strconv.Itoa(int(restartCount))+".log")
	// Keep this instance's log and the previous one's (for --previous); drop older ones.
	if restartCount >= 2 {
		old := filepath.Join(logDir, strconv.Itoa(int(restartCount-2))+".log")
		os.Remove(old)
		os.Remove(old + ".1")
	}
	os.Remove(logPath + ".1")
	os.Remove(logPath)

	w.a.event(pod, c.Name, corev1.EventTypeNormal, "Created", "Created container: %s", c.Name)
	id, err := w.a.runtime.Start(ctx, process.Spec{Argv: argv, Env: env, Dir: dir, LogPath: logPath, OnExit: w.kick})
	finished := w.a.clock.Now()
	if r.hasRun {
		r.restartCount++
		r.last = r.term
	}
	r.hasRun = true
	r.specImage = c.Image
	r.imageID = img.ID
	r.waiting = nil
	r.logPath = logPath
	if err != nil {
		w.setLogRef(c.Name, logRef{path: logPath, previous: previousLog(logDir, restartCount)})
		w.log.Info("container failed to start", "container", c.Name, "err", err)
		r.id = ""
		r.term = &corev1.ContainerStateTerminated{ExitCode: 128, Reason: reasonStartError, Message: err.Error(),
			StartedAt: truncTime(now), FinishedAt: truncTime(finished)}
		w.a.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: %s", err)
		w.kick() // the restart decision (back-off) is the next sync's
		return
	}
	w.setLogRef(c.Name, logRef{path: logPath, previous: previousLog(logDir, restartCount), id: id})
	r.id = id
	r.term = nil
	r.running = true
	r.startedAt = now
	w.a.event(pod, c.Name, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	w.startProbes(pod, c, r)
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		if msg, ok := w.runHook(ctx, pod, c, r, c.Lifecycle.PostStart, specGrace(pod)); !ok {
			w.a.event(pod, c.Name, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %s", msg)
			w.stopContainer(w.killCtx, pod, c, r, specGrace(pod))
		}
	}
}

func pullMessage(image string) string {
	return fmt.Sprintf("image %q not found in skiff's local image store; import it with: skiff image import %s DIR --entrypoint CMD", image, images.Normalize(image))
}

// commandLine is the container's argv: its command (else the image's entrypoint) and args (else,
// when it has no command of its own, the image's default args), with $(VAR) expanded.
func commandLine(c *corev1.Container, img *images.Image, lookup func(string) (string, bool)) []string {
	var argv []string
	if len(c.Command) > 0 {
		for _, s := range c.Command {
			argv = append(argv, expand(s, lookup))
		}
	} else {
		argv = append(argv, img.Entrypoint...)
	}
	switch {
	case len(c.Args) > 0:
		for _, s := range c.Args {
			argv = append(argv, expand(s, lookup))
		}
	case len(c.Command) == 0:
		argv = append(argv, img.Cmd...)
	}
	return argv
}

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

// stopContainer runs the preStop hook, then stops the container: SIGTERM, SIGKILL after what is
// left of grace (at once when ctx ends).
func (w *podWorker) stopContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, r *ctrRecord, grace time.Duration) {
	start := w.a.clock.Now()
	if c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && grace > 0 {
		if msg, ok := w.runHook(ctx, pod, c, r, c.Lifecycle.PreStop, grace); !ok {
			w.a.event(pod, c.Name, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %s", msg)
		}
		grace -= w.a.clock.Since(start)
		if grace < 2*time.Second {
			grace = 2 * time.Second // as kubelets do: SIGTERM always gets a moment
		}
	}
	if err := w.a.runtime.Stop(ctx, r.id, grace); err != nil && !errors.Is(err, process.ErrNotFound) {
		w.log.Warn("stopping container", "container", r.name, "err", err)
	}
}

// stopAll stops every running container with grace (pod's spec grace when 0).
func (w *podWorker) stopAll(ctx context.Context, grace time.Duration, event string) {
	pod, _ := w.snapshot()
	var wg sync.WaitGroup
	for _, r := range w.ctrs {
		if !r.running {
			continue
		}
		var c *corev1.Container
		for i := range pod.Spec.Containers {
			if pod.Spec.Containers[i].Name == r.name {
				c = &pod.Spec.Containers[i]
			}
		}
		if event != "" {
			w.a.event(pod, r.name, corev1.EventTypeNormal, "Killing", event, r.name)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.stopContainer(ctx, pod, c, r, grace)
		}()
	}
	wg.Wait()
	for _, r := range w.ctrs {
		if r.running {
			st, ok := w.a.runtime.State(r.id)
			w.recordExit(r, st, ok)
		}
	}
}

// terminate stops a pod being deleted and then deletes it from the API.
func (w *podWorker) terminate(ctx context.Context, pod *corev1.Pod) {
	grace := specGrace(pod)
	if g := pod.DeletionGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if !w.terminating {
		w.terminating = true
		// Ready=False reaches the API before any container is signalled, so Services drop the
		// pod from their endpoints first and no new connection reaches a dying process.
		w.publish(pod)
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := w.a.status.Flush(fctx, pod.UID); err != nil {
			w.log.Warn("marking terminating pod not ready", "err", err)
		}
		cancel()
		if ip := net.ParseIP(w.podIP); ip != nil && w.a.opts.BeforeStop != nil {
			bctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if err := w.a.opts.BeforeStop(bctx, ip); err != nil {
				w.log.Debug("waiting for the pod to leave service rotation", "err", err)
			}
			cancel()
		}
	}
	stopCtx, cancel := context.WithCancel(w.killCtx)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	w.stopAll(stopCtx, grace, "Stopping container %s")
	if ctx.Err() != nil {
		return
	}
	w.publish(pod)
	if err := w.a.status.Flush(ctx, pod.UID); err != nil {
		w.log.Debug("writing final status", "err", err)
	}
	zero := int64(0)
	uid := pod.UID
	err := w.a.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
	switch {
	case err == nil, apierrors.IsNotFound(err), apierrors.IsConflict(err):
		w.deleted = true
	default:
		w.log.Warn("deleting stopped pod", "err", err)
		w.wakeAfter(time.Second)
	}
}

// cleanup releases what the pod held on the node once it is gone from the API.
func (w *podWorker) cleanup(pod *corev1.Pod) {
	w.a.ips.Release(w.uid)
	w.a.status.Forget(w.uid)
	w.a.backoff.ResetPrefix(string(w.uid) + "/")
	for _, r := range w.ctrs {
		if r.id != "" {
			w.a.runtime.Remove(r.id)
		}
	}
	os.RemoveAll(w.a.podLogRoot(pod))
	os.RemoveAll(w.a.podDir(pod))
}

// publish computes the pod's status and hands it to the status manager.
func (w *podWorker) publish(pod *corev1.Pod) {
	v := podView{hostIP: w.a.opts.NodeIP.String(), podIP: w.podIP, startTime: w.startTime, terminating: w.terminating}
	w.mu.Lock()
	for _, c := range pod.Spec.Containers {
		r := w.ctrs[c.Name]
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
		if r == nil {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reasonContainerCreating}
			f := false
			cs.Started = &f
			v.containers = append(v.containers, cs)
			continue
		}
		cs.RestartCount = r.restartCount
		cs.ImageID = r.imageID
		if r.specImage != "" {
			cs.Image = r.specImage
		}
		if r.id != "" {
			cs.ContainerID = "skiff://" + r.id
		}
		started := r.running && r.started
		cs.Started = &started
		cs.Ready = r.running && r.started && r.ready
		switch {
		case r.running:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: truncTime(r.startedAt)}
			cs.LastTerminationState.Terminated = r.last
		case r.waiting != nil:
			cs.State.Waiting = r.waiting
			if r.term != nil {
				cs.LastTerminationState.Terminated = r.term
			} else {
				cs.LastTerminationState.Terminated = r.last
			}
		case r.term != nil:
			cs.State.Terminated = r.term
			cs.LastTerminationState.Terminated = r.last
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reasonContainerCreating}
		}
		v.containers = append(v.containers, cs)
	}
	w.mu.Unlock()
	w.a.status.Set(pod, computeStatus(pod, v, w.a.clock.Now()))
}
