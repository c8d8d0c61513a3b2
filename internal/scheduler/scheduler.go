package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-dev/skiff/internal/controller"
)

// Options tunes the scheduler; the zero value gives upstream-like defaults.
type Options struct {
	// SchedulerName is the spec.schedulerName this scheduler serves; pods
	// with an empty schedulerName are served too. Default "default-scheduler".
	SchedulerName string
	// Recorder receives Scheduled and FailedScheduling events. Nil: events
	// are written to the API through the client.
	Recorder record.EventRecorder
	// InitialBackoff and MaxBackoff bound the retry delay of a pod that fits
	// nowhere (defaults 1s and 60s). Node and pod changes retry it at once.
	InitialBackoff, MaxBackoff time.Duration
}

// Scheduler binds pending pods to nodes.
type Scheduler struct {
	client      kubernetes.Interface
	pods        corelisters.PodLister
	synced      []cache.InformerSynced
	loop        *controller.Loop[string] // pod keys
	cache       *nodeCache
	recorder    record.EventRecorder
	broadcaster record.EventBroadcaster // nil when opts.Recorder was given
	log         *slog.Logger
	name        string

	// clusterEvents counts changes that may let an unschedulable pod fit; a
	// worker that saw it move while deciding retries at once.
	clusterEvents atomic.Uint64

	// binds tracks the binding writes in flight, which Run waits for.
	binds sync.WaitGroup

	mu            sync.Mutex          // guards unschedulable
	unschedulable map[string]struct{} // keys of pods that last fit nowhere
}

// New returns a scheduler fed by factory's pod and node informers. The caller
// starts factory after New and then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, opts Options) *Scheduler {
	if opts.SchedulerName == "" {
		opts.SchedulerName = v1.DefaultSchedulerName
	}
	if opts.InitialBackoff <= 0 {
		opts.InitialBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Minute
	}
	s := &Scheduler{
		client:        client,
		cache:         newNodeCache(),
		recorder:      opts.Recorder,
		log:           log.With("component", "scheduler"),
		name:          opts.SchedulerName,
		unschedulable: map[string]struct{}{},
	}
	// A pod is retried for as long as it does not fit, as upstream's scheduling queue retries
	// it, backing off InitialBackoff to MaxBackoff per pod (upstream: 1s to 10s). That it fits
	// nowhere is routine, reported by an event and a condition, and logged at Debug.
	s.loop = controller.New(controller.Config[string]{
		Name:        "scheduler",
		Log:         s.log,
		Sync:        s.scheduleOne,
		RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[string](opts.InitialBackoff, opts.MaxBackoff),
		LogLevel: func(err error) slog.Level {
			if _, ok := errors.AsType[*FitError](err); ok {
				return slog.LevelDebug
			}
			return slog.LevelWarn
		},
	})
	if s.recorder == nil {
		s.broadcaster = record.NewBroadcaster()
		s.recorder = s.broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: opts.SchedulerName})
	}

	podInformer := factory.Core().V1().Pods()
	nodeInformer := factory.Core().V1().Nodes()
	s.pods = podInformer.Lister()
	s.synced = []cache.InformerSynced{podInformer.Informer().HasSynced, nodeInformer.Informer().HasSynced}

	// Unlike a controller's handlers, these also feed the node cache: that is
	// what keeps a scheduling decision at O(nodes) instead of listing pods.
	podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onPod(nil, obj.(*v1.Pod)) },
		UpdateFunc: func(old, cur any) { s.onPod(old.(*v1.Pod), cur.(*v1.Pod)) },
		DeleteFunc: s.onPodDelete,
	})
	nodeInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			s.cache.setNode(obj.(*v1.Node))
			s.retryUnschedulable()
		},
		UpdateFunc: func(old, cur any) {
			s.cache.setNode(cur.(*v1.Node))
			if nodeSchedulingChanged(old.(*v1.Node), cur.(*v1.Node)) {
				s.retryUnschedulable()
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if node, ok := obj.(*v1.Node); ok {
				s.cache.removeNode(node.Name)
			}
		},
	})
	return s
}

// Run schedules with workers concurrent workers until ctx is done. Decisions
// are serialized by the node cache; each binding is written in the
// background, as upstream's binding cycle is, so that the write's round trip
// does not hold up the next decision.
func (s *Scheduler) Run(ctx context.Context, workers int) error {
	if s.broadcaster != nil {
		s.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.client.CoreV1().Events("")})
		defer s.broadcaster.Shutdown()
	}
	defer s.binds.Wait()
	return s.loop.Run(ctx, workers, s.synced...)
}

func (s *Scheduler) onPod(old, pod *v1.Pod) {
	if pod.Spec.NodeName != "" {
		if isTerminal(pod) {
			if s.cache.removePod(pod.UID) {
				s.retryUnschedulable()
			}
			return
		}
		s.cache.observePod(pod)
		return
	}
	if !s.responsibleFor(pod) {
		return
	}
	// Our own status writes update the pod too; only spec or label changes
	// can change where it fits.
	if old == nil || !equality.Semantic.DeepEqual(old.Spec, pod.Spec) ||
		!equality.Semantic.DeepEqual(old.Labels, pod.Labels) {
		s.loop.Add(key(pod))
	}
}

func (s *Scheduler) onPodDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	if s.cache.removePod(pod.UID) {
		s.retryUnschedulable()
	}
}

// retryUnschedulable queues every pod that last fit nowhere.
func (s *Scheduler) retryUnschedulable() {
	s.clusterEvents.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.unschedulable {
		s.loop.Add(k)
	}
}

// scheduleOne places the pod named k: it picks a node, assumes the pod
// there and starts the binding write. A *FitError means it fits nowhere for
// now, and the loop retries it with back-off.
func (s *Scheduler) scheduleOne(ctx context.Context, k string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return nil
	}
	pod, err := s.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		s.setUnschedulable(k, false)
		return nil
	}
	if err != nil {
		return err
	}
	if !s.responsibleFor(pod) || s.cache.placed(pod.UID) {
		s.setUnschedulable(k, false)
		return nil
	}

	events := s.clusterEvents.Load()
	node, fitErr := s.cache.assume(newPodInfo(pod))
	if fitErr != nil {
		s.setUnschedulable(k, true)
		if s.clusterEvents.Load() != events {
			s.loop.Add(k) // something changed while we decided: try again now
		}
		if err := s.reportUnschedulable(ctx, pod, fitErr); err != nil {
			return err
		}
		return fitErr
	}
	s.setUnschedulable(k, false)

	// The pod is assumed: until the binding succeeds or is forgotten, no
	// worker places it again and no decision spends its capacity twice.
	s.binds.Go(func() {
		if err := s.bind(ctx, pod, node); err != nil {
			s.log.Warn("binding failed", "pod", k, "err", err)
			s.loop.AddRateLimited(k)
		}
	})
	return nil
}

// bind writes pod's binding to node and records the outcome. A failed
// binding releases the assumed capacity; the caller retries the pod, unless
// it is gone or the scheduler is stopping.
func (s *Scheduler) bind(ctx context.Context, pod *v1.Pod, node string) error {
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
	if err != nil {
		s.cache.forget(pod.UID)
		if apierrors.IsNotFound(err) || ctx.Err() != nil {
			return nil
		}
		s.recorder.Eventf(pod, v1.EventTypeWarning, "FailedScheduling", "Binding rejected: %v", err)
		return fmt.Errorf("bind pod %s to %s: %w", key(pod), node, err)
	}
	s.recorder.Eventf(pod, v1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
	return nil
}

// reportUnschedulable emits FailedScheduling and sets PodScheduled=False,
// writing status only when the condition changes.
func (s *Scheduler) reportUnschedulable(ctx context.Context, pod *v1.Pod, fitErr *FitError) error {
	msg := fitErr.Error()
	s.recorder.Event(pod, v1.EventTypeWarning, "FailedScheduling", msg)
	cond := v1.PodCondition{
		Type:    v1.PodScheduled,
		Status:  v1.ConditionFalse,
		Reason:  v1.PodReasonUnschedulable,
		Message: msg,
	}
	updated, changed := withCondition(pod, cond, metav1.Now())
	if !changed {
		return nil
	}
	_, err := s.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update status of pod %s: %w", key(pod), err)
	}
	return nil
}

// withCondition returns a copy of pod with cond set, and whether anything
// changed; the transition time moves only when the status does.
func withCondition(pod *v1.Pod, cond v1.PodCondition, now metav1.Time) (*v1.Pod, bool) {
	for _, c := range pod.Status.Conditions {
		if c.Type == cond.Type && c.Status == cond.Status && c.Reason == cond.Reason && c.Message == cond.Message {
			return pod, false
		}
	}
	pod = pod.DeepCopy()
	cond.LastProbeTime = now
	cond.LastTransitionTime = now
	for i, c := range pod.Status.Conditions {
		if c.Type == cond.Type {
			if c.Status == cond.Status {
				cond.LastTransitionTime = c.LastTransitionTime
			}
			pod.Status.Conditions[i] = cond
			return pod, true
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, cond)
	return pod, true
}

func (s *Scheduler) setUnschedulable(k string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.unschedulable[k] = struct{}{}
	} else {
		delete(s.unschedulable, k)
	}
}

func (s *Scheduler) responsibleFor(pod *v1.Pod) bool {
	return pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil && !isTerminal(pod) &&
		(pod.Spec.SchedulerName == "" || pod.Spec.SchedulerName == s.name)
}

func isTerminal(pod *v1.Pod) bool {
	return pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed
}

func key(pod *v1.Pod) string { return pod.Namespace + "/" + pod.Name }

func nodeSchedulingChanged(old, cur *v1.Node) bool {
	return old.Spec.Unschedulable != cur.Spec.Unschedulable ||
		readyStatus(old) != readyStatus(cur) ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) ||
		!equality.Semantic.DeepEqual(old.Labels, cur.Labels) ||
		!equality.Semantic.DeepEqual(old.Status.Allocatable, cur.Status.Allocatable)
}

func readyStatus(node *v1.Node) v1.ConditionStatus {
	for _, c := range node.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status
		}
	}
	return v1.ConditionUnknown
}
