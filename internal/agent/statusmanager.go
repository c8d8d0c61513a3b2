package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/workqueue"
)

// statusManager writes pods' statuses through pods/status. Workers hand it the latest status
// with Set; it waits a short linger before writing so that changes in quick succession
// (container started, then ready) become one write, writes only what differs from what the API
// has, and retries conflicts and errors with back-off.
type statusManager struct {
	client kubernetes.Interface
	log    *slog.Logger
	linger time.Duration
	// getPod returns the API's current pod (from the informer's cache).
	getPod func(namespace, name string) (*corev1.Pod, bool)

	queue workqueue.TypedRateLimitingInterface[types.UID]

	mu   sync.Mutex // guards pods
	pods map[types.UID]*statusEntry

	writes atomic.Int64 // status writes sent, for tests and benchmarks
}

type statusEntry struct {
	namespace, name string
	status          corev1.PodStatus
	version         int // bumped by Set

	writeMu sync.Mutex // serializes writes of this pod
	written int        // version last written (or found already in place)
}

func newStatusManager(client kubernetes.Interface, log *slog.Logger, linger time.Duration, getPod func(ns, name string) (*corev1.Pod, bool)) *statusManager {
	return &statusManager{
		client: client, log: log, linger: linger, getPod: getPod,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[types.UID](100*time.Millisecond, 10*time.Second),
			workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "pod-status"}),
		pods: map[types.UID]*statusEntry{},
	}
}

// Set records pod's latest status and schedules its write.
func (m *statusManager) Set(pod *corev1.Pod, st corev1.PodStatus) {
	m.mu.Lock()
	e, ok := m.pods[pod.UID]
	if !ok {
		e = &statusEntry{namespace: pod.Namespace, name: pod.Name}
		m.pods[pod.UID] = e
	}
	if ok && apiequality.Semantic.DeepEqual(e.status, st) {
		m.mu.Unlock()
		return
	}
	e.status = st
	e.version++
	m.mu.Unlock()
	m.queue.AddAfter(pod.UID, m.linger)
}

// Forget drops a pod (deleted, or its worker gone).
func (m *statusManager) Forget(uid types.UID) {
	m.mu.Lock()
	delete(m.pods, uid)
	m.mu.Unlock()
}

// Flush writes pod uid's latest status now and returns once the API has it.
func (m *statusManager) Flush(ctx context.Context, uid types.UID) error {
	return m.write(ctx, uid)
}

// Run writes statuses with workers goroutines until ctx ends.
func (m *statusManager) Run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	m.queue.ShutDown()
	wg.Wait()
}

func (m *statusManager) processNext(ctx context.Context) bool {
	uid, quit := m.queue.Get()
	if quit {
		return false
	}
	defer m.queue.Done(uid)
	if err := m.write(ctx, uid); err != nil {
		if ctx.Err() == nil {
			m.log.Warn("writing pod status", "pod_uid", uid, "err", err)
		}
		m.queue.AddRateLimited(uid)
		return true
	}
	m.queue.Forget(uid)
	return true
}

// write sends uid's latest status unless the API already has it.
func (m *statusManager) write(ctx context.Context, uid types.UID) error {
	m.mu.Lock()
	e, ok := m.pods[uid]
	m.mu.Unlock()
	if !ok {
		return nil
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()

	m.mu.Lock()
	st, version := *e.status.DeepCopy(), e.version
	m.mu.Unlock()
	if version == e.written {
		return nil
	}
	pod, ok := m.getPod(e.namespace, e.name)
	for attempt := 0; ; attempt++ {
		if !ok || pod.UID != uid {
			return nil // gone: nothing to report on
		}
		if apiequality.Semantic.DeepEqual(pod.Status, st) {
			e.written = version
			return nil
		}
		upd := pod.DeepCopy()
		upd.Status = st
		m.writes.Add(1)
		_, err := m.client.CoreV1().Pods(e.namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		switch {
		case err == nil:
			e.written = version
			return nil
		case apierrors.IsNotFound(err):
			return nil
		case apierrors.IsConflict(err) && attempt < 3:
			fresh, gerr := m.client.CoreV1().Pods(e.namespace).Get(ctx, e.name, metav1.GetOptions{})
			if apierrors.IsNotFound(gerr) {
				return nil
			}
			if gerr != nil {
				return fmt.Errorf("agent: get pod %s/%s after a conflict: %w", e.namespace, e.name, gerr)
			}
			pod, ok = fresh, true
		default:
			return fmt.Errorf("agent: update status of pod %s/%s: %w", e.namespace, e.name, err)
		}
	}
}
