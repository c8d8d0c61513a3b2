package agent

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/internal/agent/process"
)

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
