package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-dev/skiff/internal/agent/images"
	"github.com/skiff-dev/skiff/internal/agent/process"
)

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
