package replicaset

import (
	"context"
	"log/slog"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/internal/controller"
	"github.com/skiff-dev/skiff/internal/controller/expectations"
	"github.com/skiff-dev/skiff/internal/controller/podcontrol"
)

// Controller keeps the pods of every ReplicaSet (or every
// ReplicationController) at the desired count.
type Controller struct {
	kind   kind
	client kubernetes.Interface
	log    *slog.Logger
	clock  clock.WithTicker

	pods       corelisters.PodLister
	podIndexer cache.Indexer
	synced     []cache.InformerSynced

	podControl   *podcontrol.Control
	expectations *expectations.Cache
	// loop syncs the keys of our objects; its AddAfter schedules
	// availability re-checks on c.clock.
	loop        *controller.Loop[string]
	recorder    record.EventRecorder
	broadcaster record.EventBroadcaster // nil when a recorder was injected
	burst       int
}

// Option configures a Controller.
type Option func(*options)

type options struct {
	clock       clock.WithTicker
	recorder    record.EventRecorder
	burst       int
	rateLimiter workqueue.TypedRateLimiter[string]
}

// WithClock makes the controller read time, and schedule its delayed
// re-checks, with clk instead of the wall clock.
func WithClock(clk clock.WithTicker) Option { return func(o *options) { o.clock = clk } }

// WithEventRecorder records events with r instead of writing them to the API.
func WithEventRecorder(r record.EventRecorder) Option { return func(o *options) { o.recorder = r } }

// WithRateLimiter sets how failed syncs back off (default: upstream's
// controller rate limiter, 5ms doubling to 1000s, 10 qps overall).
func WithRateLimiter(r workqueue.TypedRateLimiter[string]) Option {
	return func(o *options) { o.rateLimiter = r }
}

// WithBurstReplicas caps the pods created or deleted per sync (default BurstReplicas).
func WithBurstReplicas(n int) Option { return func(o *options) { o.burst = n } }

// New returns a controller for apps/v1 ReplicaSets. It registers its informers
// with factory; the caller starts factory after New and before or after Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, opts ...Option) *Controller {
	return newController(replicaSetKind(client, factory), client, factory, log, opts)
}

// NewForReplicationControllers returns the same controller for core/v1
// ReplicationControllers.
func NewForReplicationControllers(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, opts ...Option) *Controller {
	return newController(replicationControllerKind(client, factory), client, factory, log, opts)
}

func newController(k kind, client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, opts []Option) *Controller {
	o := options{clock: clock.RealClock{}, burst: BurstReplicas, rateLimiter: workqueue.DefaultTypedControllerRateLimiter[string]()}
	for _, opt := range opts {
		opt(&o)
	}
	if log == nil {
		log = slog.Default()
	}
	c := &Controller{
		kind:         k,
		client:       client,
		log:          log.With("component", k.component),
		clock:        o.clock,
		expectations: expectations.New(o.clock),
		burst:        o.burst,
		recorder:     o.recorder,
	}
	// Upstream's policy for both kinds: the default controller rate limiter,
	// and a failing key is retried for as long as it fails. Retries back off
	// in real time; only availability re-checks follow c.clock.
	c.loop = controller.New(controller.Config[string]{
		Name:        k.queue,
		Log:         c.log,
		Sync:        c.sync,
		RateLimiter: o.rateLimiter,
		Clock:       o.clock,
		LogLevel:    syncErrorLevel,
	})
	if c.recorder == nil {
		c.broadcaster = record.NewBroadcaster()
		c.recorder = c.broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: k.component})
	}
	c.podControl = podcontrol.New(client, c.recorder)

	podInformer := factory.Core().V1().Pods()
	c.pods = podInformer.Lister()
	c.podIndexer = podInformer.Informer().GetIndexer()
	if err := podcontrol.AddControllerIndex(podInformer.Informer()); err != nil {
		c.log.Error("adding pod index", "err", err)
	}
	if _, ok := k.informer.GetIndexer().GetIndexers()[controllerUIDIndex]; !ok {
		if err := k.informer.AddIndexers(cache.Indexers{controllerUIDIndex: indexByControllerUID}); err != nil {
			c.log.Error("adding controller index", "err", err)
		}
	}

	handlers := []struct {
		informer cache.SharedIndexInformer
		funcs    cache.ResourceEventHandlerFuncs
	}{
		{k.informer, cache.ResourceEventHandlerFuncs{AddFunc: c.addOwner, UpdateFunc: c.updateOwner, DeleteFunc: c.deleteOwner}},
		{podInformer.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addPod, UpdateFunc: c.updatePod, DeleteFunc: c.deletePod}},
	}
	for _, h := range handlers {
		reg, err := h.informer.AddEventHandler(h.funcs)
		if err != nil {
			c.log.Error("adding event handler", "err", err)
			continue
		}
		c.synced = append(c.synced, reg.HasSynced)
	}
	return c
}

// Run syncs with the given number of workers until ctx is done. The informer
// factory must be started by the caller.
func (c *Controller) Run(ctx context.Context, workers int) error {
	if c.broadcaster != nil {
		c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
		defer c.broadcaster.Shutdown()
	}
	return c.loop.Run(ctx, workers, c.synced...)
}

// syncErrorLevel logs conflicts at Debug: they are routine, the cache was
// behind a write and the retry reads the newer version.
func syncErrorLevel(err error) slog.Level {
	if apierrors.IsConflict(err) {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

func (c *Controller) enqueue(rs *appsv1.ReplicaSet) {
	c.loop.Add(rs.Namespace + "/" + rs.Name)
}

// ownerOf returns the object the pod's controller reference points at, if it
// is one of ours and still the same object (same UID).
func (c *Controller) ownerOf(namespace string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref == nil || ref.Kind != c.kind.gvk.Kind {
		return nil
	}
	rs, err := c.kind.store.get(namespace, ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// ownersMatching returns the objects whose selector selects the orphan pod.
func (c *Controller) ownersMatching(pod *v1.Pod) []*appsv1.ReplicaSet {
	if len(pod.Labels) == 0 {
		return nil
	}
	all, err := c.kind.store.list(pod.Namespace)
	if err != nil {
		return nil
	}
	var out []*appsv1.ReplicaSet
	for _, rs := range all {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		// An empty selector selects nothing here, not everything.
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, rs)
	}
	if len(out) > 1 {
		c.log.Info("pod selected by more than one controller; user error", "pod", podKey(pod), "count", len(out))
	}
	return out
}

func (c *Controller) addOwner(obj any) {
	if rs, ok := c.kind.store.convert(obj); ok {
		c.enqueue(rs)
	}
}

func (c *Controller) updateOwner(oldObj, newObj any) {
	oldRS, ok1 := c.kind.store.convert(oldObj)
	curRS, ok2 := c.kind.store.convert(newObj)
	if !ok1 || !ok2 {
		return
	}
	if curRS.UID != oldRS.UID {
		// Deleted and recreated under the same name between two watch
		// events: forget the old object's expectations.
		c.deleteOwner(cache.DeletedFinalStateUnknown{Key: curRS.Namespace + "/" + curRS.Name, Obj: oldObj})
	}
	if wantReplicas(oldRS) != wantReplicas(curRS) {
		c.log.Debug("replicas changed", "key", curRS.Namespace+"/"+curRS.Name, "old", wantReplicas(oldRS), "new", wantReplicas(curRS))
	}
	c.enqueue(curRS)
}

func (c *Controller) deleteOwner(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	rs, ok := c.kind.store.convert(obj)
	if !ok {
		return
	}
	key := rs.Namespace + "/" + rs.Name
	c.expectations.Delete(key)
	c.loop.Add(key)
}

func (c *Controller) addPod(obj any) {
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already terminating (after a controller
		// restart, say): it must not count as a creation.
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if rs := c.ownerOf(pod.Namespace, ref); rs != nil {
			key := rs.Namespace + "/" + rs.Name
			c.expectations.CreationObserved(key)
			c.loop.Add(key)
		}
		return
	}
	for _, rs := range c.ownersMatching(pod) {
		c.enqueue(rs)
	}
}

func (c *Controller) updatePod(oldObj, newObj any) {
	oldPod, ok1 := oldObj.(*v1.Pod)
	curPod, ok2 := newObj.(*v1.Pod)
	if !ok1 || !ok2 {
		return
	}
	if curPod.ResourceVersion != "" && curPod.ResourceVersion == oldPod.ResourceVersion {
		return // a periodic resync; nothing changed
	}
	labelChanged := !reflect.DeepEqual(curPod.Labels, oldPod.Labels)
	if curPod.DeletionTimestamp != nil {
		// Graceful deletion shows up first as an update that sets the
		// deletion timestamp; count the deletion now so the owner can create
		// a replacement without waiting for the grace period.
		c.deletePod(curPod)
		if labelChanged {
			c.deletePod(oldPod)
		}
		return
	}
	curRef := metav1.GetControllerOfNoCopy(curPod)
	oldRef := metav1.GetControllerOfNoCopy(oldPod)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if rs := c.ownerOf(oldPod.Namespace, oldRef); rs != nil {
			c.enqueue(rs)
		}
	}
	if curRef != nil {
		if rs := c.ownerOf(curPod.Namespace, curRef); rs != nil {
			c.enqueue(rs)
		}
		return
	}
	if labelChanged || refChanged {
		for _, rs := range c.ownersMatching(curPod) {
			c.enqueue(rs)
		}
	}
}

func (c *Controller) deletePod(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	rs := c.ownerOf(pod.Namespace, metav1.GetControllerOfNoCopy(pod))
	if rs == nil {
		return
	}
	key := rs.Namespace + "/" + rs.Name
	c.expectations.DeletionObserved(key, podKey(pod))
	c.loop.Add(key)
}
