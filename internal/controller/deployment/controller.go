package deployment

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/internal/controller"
	"github.com/skiff-dev/skiff/internal/controller/controllerref"
	"github.com/skiff-dev/skiff/internal/rollout"
)

// maxRetries is how many times a failing Deployment is retried, with
// backoff, before it waits for the next change to it: 15, as upstream's
// deployment controller. With the default rate limiter the retries wait 5ms,
// 10ms, ... 82s: the key is dropped after about 2m45s of failures.
const maxRetries = 15

var controllerKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// Controller rolls out Deployments.
type Controller struct {
	client kubernetes.Interface
	log    *slog.Logger
	clock  clock.WithTicker

	deployments appslisters.DeploymentLister
	replicaSets appslisters.ReplicaSetLister
	pods        corelisters.PodLister
	synced      []cache.InformerSynced

	// loop syncs the keys of Deployments; its AddAfter schedules progress
	// checks on c.clock.
	loop        *controller.Loop[string]
	recorder    record.EventRecorder
	broadcaster record.EventBroadcaster // nil when a recorder was injected
}

// Option configures a Controller.
type Option func(*options)

type options struct {
	clock       clock.WithTicker
	recorder    record.EventRecorder
	rateLimiter workqueue.TypedRateLimiter[string]
}

// WithClock makes the controller read time, and schedule its progress
// checks, with clk instead of the wall clock.
func WithClock(clk clock.WithTicker) Option { return func(o *options) { o.clock = clk } }

// WithEventRecorder records events with r instead of writing them to the API.
func WithEventRecorder(r record.EventRecorder) Option { return func(o *options) { o.recorder = r } }

// WithRateLimiter sets how failed syncs back off (default: upstream's
// controller rate limiter, 5ms doubling to 1000s, 10 qps overall).
func WithRateLimiter(r workqueue.TypedRateLimiter[string]) Option {
	return func(o *options) { o.rateLimiter = r }
}

// New returns a Deployment controller. It registers its informers with
// factory; the caller starts factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, opts ...Option) *Controller {
	o := options{clock: clock.RealClock{}, rateLimiter: workqueue.DefaultTypedControllerRateLimiter[string]()}
	for _, opt := range opts {
		opt(&o)
	}
	if log == nil {
		log = slog.Default()
	}
	c := &Controller{
		client:   client,
		log:      log.With("component", "deployment-controller"),
		clock:    o.clock,
		recorder: o.recorder,
	}
	// Upstream's policy: the default controller rate limiter, and a key is
	// dropped after maxRetries. Retries back off in real time; only progress
	// deadlines follow c.clock.
	c.loop = controller.New(controller.Config[string]{
		Name:        "deployment",
		Log:         c.log,
		Sync:        c.syncKey,
		RateLimiter: o.rateLimiter,
		MaxRetries:  maxRetries,
		Clock:       o.clock,
		LogLevel:    syncErrorLevel,
	})
	if c.recorder == nil {
		c.broadcaster = record.NewBroadcaster()
		c.recorder = c.broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "deployment-controller"})
	}

	dInformer := factory.Apps().V1().Deployments()
	rsInformer := factory.Apps().V1().ReplicaSets()
	podInformer := factory.Core().V1().Pods()
	c.deployments = dInformer.Lister()
	c.replicaSets = rsInformer.Lister()
	c.pods = podInformer.Lister()

	handlers := []struct {
		informer cache.SharedIndexInformer
		funcs    cache.ResourceEventHandlerFuncs
	}{
		{dInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.enqueueObject(obj) },
			UpdateFunc: func(_, obj any) { c.enqueueObject(obj) },
			DeleteFunc: c.enqueueObject,
		}},
		{rsInformer.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addReplicaSet, UpdateFunc: c.updateReplicaSet, DeleteFunc: c.deleteReplicaSet}},
		{podInformer.Informer(), cache.ResourceEventHandlerFuncs{UpdateFunc: c.updatePod, DeleteFunc: c.deletePod}},
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

// Run syncs Deployments with the given number of workers until ctx is done.
// The informer factory must be started by the caller.
func (c *Controller) Run(ctx context.Context, workers int) error {
	if c.broadcaster != nil {
		c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
		defer c.broadcaster.Shutdown()
	}
	return c.loop.Run(ctx, workers, c.synced...)
}

// syncKey syncs one Deployment. A namespace being deleted refuses the objects a
// rollout needs, and no retry can change that: the key is done, as upstream.
func (c *Controller) syncKey(ctx context.Context, key string) error {
	err := c.syncDeployment(ctx, key)
	if isNamespaceTerminating(err) {
		return nil
	}
	return err
}

// syncErrorLevel logs routine errors at Debug: a conflict, or an object
// already there or already gone, means the cache was behind a write, and the
// retry reads the newer version.
func syncErrorLevel(err error) slog.Level {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err) {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

func (c *Controller) enqueueObject(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if d, ok := obj.(*appsv1.Deployment); ok {
		c.loop.Add(d.Namespace + "/" + d.Name)
	}
}

// ownerOf returns the Deployment a controller reference points at, if it
// still exists with that UID.
func (c *Controller) ownerOf(namespace string, ref *metav1.OwnerReference) *appsv1.Deployment {
	if ref == nil || ref.Kind != controllerKind.Kind {
		return nil
	}
	d, err := c.deployments.Deployments(namespace).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

// deploymentsSelecting returns the Deployments whose selector selects the
// orphan ReplicaSet's labels.
func (c *Controller) deploymentsSelecting(rs *appsv1.ReplicaSet) []*appsv1.Deployment {
	if len(rs.Labels) == 0 {
		return nil
	}
	all, err := c.deployments.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.Deployment
	for _, d := range all {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		// An empty selector selects nothing here, not everything.
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(rs.Labels)) {
			continue
		}
		out = append(out, d)
	}
	return out
}

func (c *Controller) addReplicaSet(obj any) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if rs.DeletionTimestamp != nil {
		// Seen first already being deleted (after a restart, say).
		c.deleteReplicaSet(rs)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if d := c.ownerOf(rs.Namespace, ref); d != nil {
			c.enqueueObject(d)
		}
		return
	}
	for _, d := range c.deploymentsSelecting(rs) {
		c.enqueueObject(d)
	}
}

func (c *Controller) updateReplicaSet(oldObj, newObj any) {
	oldRS, ok1 := oldObj.(*appsv1.ReplicaSet)
	curRS, ok2 := newObj.(*appsv1.ReplicaSet)
	if !ok1 || !ok2 {
		return
	}
	if curRS.ResourceVersion != "" && curRS.ResourceVersion == oldRS.ResourceVersion {
		return // a periodic resync; nothing changed
	}
	curRef := metav1.GetControllerOfNoCopy(curRS)
	oldRef := metav1.GetControllerOfNoCopy(oldRS)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if d := c.ownerOf(oldRS.Namespace, oldRef); d != nil {
			c.enqueueObject(d)
		}
	}
	if curRef != nil {
		if d := c.ownerOf(curRS.Namespace, curRef); d != nil {
			c.enqueueObject(d)
		}
		return
	}
	if refChanged || !reflect.DeepEqual(curRS.Labels, oldRS.Labels) {
		for _, d := range c.deploymentsSelecting(curRS) {
			c.enqueueObject(d)
		}
	}
}

func (c *Controller) deleteReplicaSet(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if d := c.ownerOf(rs.Namespace, metav1.GetControllerOfNoCopy(rs)); d != nil {
		c.enqueueObject(d)
	}
}

// updatePod wakes a Deployment with a skiff.dev/ policy when one of its
// pods changes status: restarts and readiness are its rollback and
// promotion signals. Other Deployments, as upstream's, ignore pod updates.
func (c *Controller) updatePod(oldObj, newObj any) {
	oldPod, ok1 := oldObj.(*v1.Pod)
	pod, ok2 := newObj.(*v1.Pod)
	if !ok1 || !ok2 || pod.ResourceVersion == oldPod.ResourceVersion {
		return
	}
	d := c.deploymentOfPod(pod)
	if d == nil {
		return
	}
	if policy, _ := rollout.Parse(d.Annotations); policy.Enabled() {
		c.enqueueObject(d)
	}
}

// deploymentOfPod returns the Deployment controlling the pod's ReplicaSet.
func (c *Controller) deploymentOfPod(pod *v1.Pod) *appsv1.Deployment {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return nil
	}
	rs, err := c.replicaSets.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return c.ownerOf(rs.Namespace, metav1.GetControllerOfNoCopy(rs))
}

// deletePod wakes a Recreate Deployment when the last pod of its old
// ReplicaSets is gone, which is what it waits for before creating new ones.
func (c *Controller) deletePod(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	d := c.deploymentOfPod(pod)
	if d == nil || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		return
	}
	rsList, err := c.ownedReplicaSets(d)
	if err != nil {
		return
	}
	pods, err := c.podsByReplicaSet(d, rsList)
	if err != nil {
		return
	}
	for _, ps := range pods {
		if len(ps) > 0 {
			return
		}
	}
	c.enqueueObject(d)
}

// claimReplicaSets returns the ReplicaSets d controls after adopting
// matching orphans and releasing owned ones that no longer match.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	// All of the namespace's: owned ones that stopped matching must be found
	// to be released.
	all, err := c.replicaSets.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s has invalid label selector: %w", d.Namespace, d.Name, err)
	}
	claimer := &controllerref.Claimer[*appsv1.ReplicaSet]{
		Owner:    d,
		Kind:     controllerKind,
		Selector: selector,
		Patch: func(ctx context.Context, rs *appsv1.ReplicaSet, patch []byte) error {
			_, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
		CanAdopt: controllerref.RecheckDeletion(func(ctx context.Context) (metav1.Object, error) {
			fresh, err := c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			if fresh.UID != d.UID {
				return nil, fmt.Errorf("original Deployment %s/%s is gone: got uid %v, wanted %v", d.Namespace, d.Name, fresh.UID, d.UID)
			}
			return fresh, nil
		}),
	}
	return claimer.Claim(ctx, all)
}

// ownedReplicaSets returns the cached ReplicaSets d controls, without
// claiming anything.
func (c *Controller) ownedReplicaSets(d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	all, err := c.replicaSets.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*appsv1.ReplicaSet
	for _, rs := range all {
		if metav1.IsControlledBy(rs, d) {
			out = append(out, rs)
		}
	}
	return out, nil
}

// podsByReplicaSet groups the pods selected by d by the ReplicaSet in
// rsList controlling them. Finished and terminating pods are included: a
// Recreate rollout waits for old pods to be gone, not merely deleted.
func (c *Controller) podsByReplicaSet(d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (map[types.UID][]*v1.Pod, error) {
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	pods, err := c.pods.Pods(d.Namespace).List(selector)
	if err != nil {
		return nil, err
	}
	byRS := make(map[types.UID][]*v1.Pod, len(rsList))
	for _, rs := range rsList {
		byRS[rs.UID] = nil
	}
	for _, p := range pods {
		ref := metav1.GetControllerOfNoCopy(p)
		if ref == nil {
			continue
		}
		if _, ok := byRS[ref.UID]; ok {
			byRS[ref.UID] = append(byRS[ref.UID], p)
		}
	}
	return byRS, nil
}

// isNamespaceTerminating reports an error no retry can fix: the namespace is
// being deleted and refuses new objects.
func isNamespaceTerminating(err error) bool {
	return apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause)
}
