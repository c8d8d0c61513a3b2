package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-dev/skiff/internal/agent/images"
	"github.com/skiff-dev/skiff/internal/agent/process"
)

// startContainer starts a new instance of c, one step after another. A step that cannot go on
// leaves c waiting with the kubelet's reason and schedules its own retry.
func (w *podWorker) startContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, r *ctrRecord, key string) {
	img, ok := w.pullImage(pod, c, r, key+"/pull")
	if !ok {
		return
	}
	env, ok := w.buildEnv(ctx, pod, c, r, img, key+"/config")
	if !ok {
		return
	}
	spec := process.Spec{
		Argv:    commandLine(c, img, envLookup(env)),
		Env:     env,
		Dir:     w.workingDir(pod, c, img),
		LogPath: w.newLogFile(pod, c.Name, r.nextRestartCount()),
		OnExit:  w.kick,
		Stdin:   c.Stdin, StdinOnce: c.StdinOnce, TTY: c.TTY,
	}
	if !w.launch(ctx, pod, c, r, img, spec) {
		return
	}
	w.startProbes(pod, c, r)
	w.postStart(ctx, pod, c, r)
}

// pullImage resolves c's image in the image store, as the kubelet's image manager pulls it: an
// image the store holds is "already present on machine"; one it does not is a failed pull
// (ErrImagePull), retried after a back-off (10 s doubling to 5 min, ImagePullBackOff meanwhile);
// with imagePullPolicy Never it is ErrImageNeverPull. Until it resolves, pullImage leaves c
// waiting, schedules its next sync and reports false.
func (w *podWorker) pullImage(pod *corev1.Pod, c *corev1.Container, r *ctrRecord, backoffKey string) (*images.Image, bool) {
	img, err := w.a.opts.Images.Resolve(c.Image)
	if err == nil {
		if !r.pullFailedAt.IsZero() {
			r.pullFailedAt, r.pullErr = time.Time{}, ""
			w.a.backoff.Reset(backoffKey)
		}
		w.a.event(pod, c.Name, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
		return img, true
	}
	if c.ImagePullPolicy == corev1.PullNever {
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		r.waiting = &corev1.ContainerStateWaiting{Reason: reasonErrImageNeverPull, Message: msg}
		w.a.event(pod, c.Name, corev1.EventTypeWarning, reasonErrImageNeverPull, "%s", msg)
		w.a.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: %s", reasonErrImageNeverPull)
		w.wakeAfter(neverPullRecheck)
		return nil, false
	}
	ref := withDefaultTag(c.Image) // a pull's events name the tag pulled, as the kubelet's do
	if !r.pullFailedAt.IsZero() {
		if in, left := w.a.backoff.InBackoffSince(backoffKey, r.pullFailedAt); in {
			r.waiting = &corev1.ContainerStateWaiting{Reason: reasonImagePullBackOff,
				Message: fmt.Sprintf("Back-off pulling image %q: %s: %s", ref, reasonErrImagePull, r.pullErr)}
			w.a.event(pod, c.Name, corev1.EventTypeNormal, "BackOff", "Back-off pulling image %q", ref)
			w.a.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: %s", reasonImagePullBackOff)
			w.wakeAfter(left + 10*time.Millisecond)
			return nil, false
		}
	}
	msg := pullMessage(c.Image)
	if !errors.Is(err, images.ErrNotFound) {
		msg = err.Error()
	}
	now := w.a.clock.Now()
	w.a.backoff.Next(backoffKey, now)
	r.pullFailedAt, r.pullErr = now, msg
	r.waiting = &corev1.ContainerStateWaiting{Reason: reasonErrImagePull, Message: msg}
	w.a.event(pod, c.Name, corev1.EventTypeNormal, "Pulling", "Pulling image %q", ref)
	w.a.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %s", ref, msg)
	w.a.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: %s", reasonErrImagePull)
	// The kubelet shows ErrImagePull until its next sync of the pod finds the back-off running
	// (ImagePullBackOff); that sync comes here pullErrorShown after the failure, the retry when
	// the back-off ends.
	w.wakeAfter(min(pullErrorShown, w.a.backoff.Delay(backoffKey)))
	return nil, false
}

// withDefaultTag is image with ":latest" when it names neither a tag nor a digest.
func withDefaultTag(image string) string {
	if strings.Contains(image, "@") || strings.Contains(image[strings.LastIndex(image, "/")+1:], ":") {
		return image
	}
	return image + ":latest"
}

// pullErrorShown is how long a failed pull shows as ErrImagePull before ImagePullBackOff.
const pullErrorShown = time.Second

// neverPullRecheck is how often a container whose image is missing with pull policy Never
// looks again (an image imported meanwhile starts it).
const neverPullRecheck = 10 * time.Second

// buildEnv builds c's environment. When a reference in it cannot be resolved (a missing
// ConfigMap, Secret or key) it leaves c waiting (CreateContainerConfigError), schedules a retry
// after a back-off and reports false.
func (w *podWorker) buildEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, r *ctrRecord, img *images.Image, backoffKey string) ([]string, bool) {
	src := &envSource{client: w.a.client, services: w.a.opts.Services}
	env, err := containerEnv(ctx, src, pod, c, img.Env, w.a.node())
	if err != nil {
		r.waiting = &corev1.ContainerStateWaiting{Reason: reasonConfigError, Message: err.Error()}
		w.a.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: %s", err)
		w.a.backoff.Next(backoffKey, w.a.clock.Now())
		w.wakeAfter(w.a.backoff.Delay(backoffKey))
		return nil, false
	}
	w.a.backoff.Reset(backoffKey)
	return env, true
}

// envLookup looks a variable up in env (KEY=VALUE); the last setting wins.
func envLookup(env []string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if len(env[i]) > len(k) && env[i][len(k)] == '=' && env[i][:len(k)] == k {
				return env[i][len(k)+1:], true
			}
		}
		return "", false
	}
}

// workingDir returns the directory c runs in, created if missing.
func (w *podWorker) workingDir(pod *corev1.Pod, c *corev1.Container, img *images.Image) string {
	dir := containerDir(w.a.podDir(pod), img.Dir, c.WorkingDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.log.Warn("creating working directory", "dir", dir, "err", err)
	}
	return dir
}

// containerDir is a container's working directory: its workingDir, inside the image's files when
// the image has files (imported images) and as given otherwise (built-in images); without a
// workingDir, the image's files or else the pod's directory.
func containerDir(podDir, imageDir, workingDir string) string {
	switch {
	case workingDir != "" && imageDir != "":
		return filepath.Join(imageDir, workingDir)
	case workingDir != "":
		return workingDir
	case imageDir != "":
		return imageDir
	}
	return podDir
}

// newLogFile returns the empty log file of the container's instance with restart count n. The
// previous instance's log stays (for logs --previous); older ones are removed.
func (w *podWorker) newLogFile(pod *corev1.Pod, container string, n int32) string {
	dir := w.a.logDir(pod, container)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.log.Warn("creating log directory", "dir", dir, "err", err)
	}
	path := filepath.Join(dir, strconv.Itoa(int(n))+".log")
	if n >= 2 {
		old := filepath.Join(dir, strconv.Itoa(int(n-2))+".log")
		os.Remove(old)
		os.Remove(old + ".1")
	}
	os.Remove(path + ".1")
	os.Remove(path)
	return path
}

// launch starts the new instance and records it in r. A start error ends the instance at once
// (StartError, exit code 128) and launch reports false; whether and when to retry is the next
// sync's decision, as for a crash.
func (w *podWorker) launch(ctx context.Context, pod *corev1.Pod, c *corev1.Container, r *ctrRecord, img *images.Image, spec process.Spec) bool {
	n := r.nextRestartCount()
	w.a.event(pod, c.Name, corev1.EventTypeNormal, "Created", "Created container: %s", c.Name)
	startedAt := w.a.clock.Now()
	id, err := w.a.runtime.Start(ctx, spec)
	if err != nil {
		id = "" // nothing runs
	}
	if r.hasRun {
		r.last = r.term
	}
	r.id, r.restartCount, r.hasRun = id, n, true
	r.specImage, r.imageID, r.waiting = c.Image, img.ID, nil
	w.setLogRef(c.Name, logRef{path: spec.LogPath, previous: previousLog(filepath.Dir(spec.LogPath), n), id: id})
	if err != nil {
		w.log.Info("container failed to start", "container", c.Name, "err", err)
		r.term = &corev1.ContainerStateTerminated{ExitCode: 128, Reason: reasonStartError, Message: err.Error(),
			StartedAt: truncTime(startedAt), FinishedAt: truncTime(w.a.clock.Now())}
		w.a.event(pod, c.Name, corev1.EventTypeWarning, "Failed", "Error: %s", err)
		w.kick()
		return false
	}
	r.term, r.running, r.startedAt = nil, true, startedAt
	w.a.event(pod, c.Name, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	return true
}

// postStart runs c's postStart hook, if it has one. A failed hook kills the container, which is
// then restarted as if it had crashed.
func (w *podWorker) postStart(ctx context.Context, pod *corev1.Pod, c *corev1.Container, r *ctrRecord) {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return
	}
	if msg, ok := w.runHook(ctx, pod, c, r, c.Lifecycle.PostStart, specGrace(pod)); !ok {
		w.a.event(pod, c.Name, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %s", msg)
		w.stopContainer(w.killCtx, pod, c, r, specGrace(pod))
	}
}

func pullMessage(image string) string {
	return fmt.Sprintf("image %q not found in skiff's local image store; import it with: skiff image import %s DIR --entrypoint CMD", image, images.Normalize(image))
}

// commandLine is the container's argv: its command (else the image's entrypoint) and args (else,
// when it has no command of its own, the image's default args), with $(VAR) expanded. A command
// naming one of a built-in image's own programs (/agnhost) runs what stands in for it.
func commandLine(c *corev1.Container, img *images.Image, lookup func(string) (string, bool)) []string {
	var argv []string
	if len(c.Command) > 0 {
		for _, s := range c.Command {
			argv = append(argv, expand(s, lookup))
		}
		if prog, ok := img.Programs[argv[0]]; ok { // the image's own program: what runs it here
			argv = append(slices.Clone(prog), argv[1:]...)
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
