package agent

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-dev/skiff/internal/agent/logs"
)

// logRef is where a container's logs are.
type logRef struct {
	path     string // the current (or last) instance's log
	previous string // the instance before it, "" if none
	id       string // runtime ID of the current instance, "" if it never started
}

func previousLog(dir string, restartCount int32) string {
	if restartCount == 0 {
		return ""
	}
	return filepath.Join(dir, strconv.Itoa(int(restartCount-1))+".log")
}

func (w *podWorker) setLogRef(container string, ref logRef) {
	w.mu.Lock()
	w.logRefs[container] = ref
	w.mu.Unlock()
}

func (w *podWorker) logRef(container string) (logRef, *corev1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ref, ok := w.logRefs[container]
	return ref, w.pod, ok
}

// ServeContainerLogs writes a container's log to rw as opts ask (kubectl logs' options). The
// pod is identified by uid; errors are API errors ready for the client.
func (a *Agent) ServeContainerLogs(rw http.ResponseWriter, r *http.Request, uid types.UID, container string, opts *corev1.PodLogOptions) error {
	a.mu.Lock()
	w := a.workers[uid]
	a.mu.Unlock()
	if w == nil {
		return apierrors.NewNotFound(corev1.Resource("pods"), string(uid))
	}
	ref, pod, ok := w.logRef(container)
	if !ok {
		reason := reasonContainerCreating
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.Name == container && cs.State.Waiting != nil && cs.State.Waiting.Reason != "" {
				reason = cs.State.Waiting.Reason
			}
		}
		return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, pod.Name, reason))
	}
	path := ref.path
	var follow *logs.Writer
	if opts.Previous {
		if ref.previous == "" {
			return apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", container, pod.Name))
		}
		path = ref.previous
	} else if opts.Follow && ref.id != "" {
		follow = a.runtime.LogWriter(ref.id)
	}
	if _, err := os.Stat(path); err != nil {
		if opts.Previous {
			return apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", container, pod.Name))
		}
		return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, pod.Name, reasonContainerCreating))
	}
	lo := logs.Options{Tail: -1, Timestamps: opts.Timestamps}
	if opts.TailLines != nil {
		lo.Tail = *opts.TailLines
	}
	if opts.LimitBytes != nil {
		lo.LimitBytes = *opts.LimitBytes
	}
	switch {
	case opts.SinceTime != nil:
		lo.Since = opts.SinceTime.Time
	case opts.SinceSeconds != nil:
		lo.Since = a.clock.Now().Add(-time.Duration(*opts.SinceSeconds) * time.Second)
	}
	rw.Header().Set("Content-Type", "text/plain")
	rw.WriteHeader(http.StatusOK)
	if err := logs.Read(r.Context(), path, lo, flushWriter{rw}, follow); err != nil {
		a.log.Debug("serving logs", "pod", pod.Namespace+"/"+pod.Name, "container", container, "err", err)
	}
	return nil
}

// flushWriter flushes after every write so followers see lines as they come.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) { return f.w.Write(p) }

func (f flushWriter) Flush() {
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
}
