package endpoints

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-dev/skiff/internal/controller"
	"github.com/skiff-dev/skiff/internal/endpointslice"
)

// maxRetries is how many times a failing Service is retried before it waits for the next change
// to it: 15, as upstream's endpoints and EndpointSlice controllers.
const maxRetries = 15

// Options configures a Controller; the zero value means upstream's defaults.
type Options struct {
	// MaxEndpointsPerSlice caps the endpoints of one EndpointSlice (default 100).
	MaxEndpointsPerSlice int
}

// Controller maintains the Endpoints and EndpointSlices of every Service.
type Controller struct {
	client kubernetes.Interface
	log    *slog.Logger
	opts   Options

	services   corelisters.ServiceLister
	pods       corelisters.PodLister
	endpoints  corelisters.EndpointsLister
	sliceIndex cache.Indexer
	synced     []cache.InformerSynced

	loop     *controller.Loop[string] // Service keys
	triggers *triggerTracker
	written  *sliceTracker
}

// New returns a controller that registers its informers (Services, Pods, Endpoints,
// EndpointSlices) with factory. The caller starts factory, before or after Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, opts Options) *Controller {
	if log == nil {
		log = slog.Default()
	}
	if opts.MaxEndpointsPerSlice <= 0 {
		opts.MaxEndpointsPerSlice = DefaultMaxEndpointsPerSlice
	}
	c := &Controller{
		client:   client,
		log:      log.With("component", "endpoints-controller"),
		opts:     opts,
		triggers: newTriggerTracker(),
		written:  newSliceTracker(),
	}
	// Upstream's endpoints controller's policy: the default controller rate limiter, and a Service
	// is dropped after maxRetries. Failures are logged at Debug, as upstream logs them at V(2): a
	// write that lost a race with another is retried and the next sync reads the newer state.
	c.loop = controller.New(controller.Config[string]{
		Name:       "endpoints",
		Log:        c.log,
		Sync:       c.sync,
		MaxRetries: maxRetries,
		LogLevel:   func(error) slog.Level { return slog.LevelDebug },
		Prepare:    c.queueLeftovers,
	})

	svcInf := factory.Core().V1().Services()
	podInf := factory.Core().V1().Pods()
	epInf := factory.Core().V1().Endpoints()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	c.services = svcInf.Lister()
	c.pods = podInf.Lister()
	c.endpoints = epInf.Lister()
	c.sliceIndex = sliceInf.Informer().GetIndexer()
	if err := endpointslice.AddIndex(sliceInf.Informer()); err != nil {
		c.log.Error("adding slice index", "err", err)
	}

	handlers := []struct {
		informer cache.SharedIndexInformer
		funcs    cache.ResourceEventHandlerFuncs
	}{
		{svcInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueObject,
			UpdateFunc: func(_, cur any) { c.enqueueObject(cur) },
			DeleteFunc: c.enqueueObject,
		}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.addPod, UpdateFunc: c.updatePod, DeleteFunc: c.deletePod}},
		{epInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.changedEndpoints,
			UpdateFunc: func(_, cur any) { c.changedEndpoints(cur) },
			DeleteFunc: c.enqueueObject, // recreate what was ours, stop mirroring what was not
		}},
		{sliceInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.changedSlice,
			UpdateFunc: func(_, cur any) { c.changedSlice(cur) },
			DeleteFunc: c.deletedSlice,
		}},
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

// Run syncs with the given number of workers until ctx is done, then returns nil. The informer
// factory must be started by the caller.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return c.loop.Run(ctx, workers, c.synced...)
}

// queueLeftovers queues the key of every Endpoints object, so that one whose Service went away
// while no controller ran is found; every Service is queued by its informer's initial adds.
func (c *Controller) queueLeftovers(context.Context) {
	if eps, err := c.endpoints.List(labels.Everything()); err == nil {
		for _, ep := range eps {
			c.loop.Add(ep.Namespace + "/" + ep.Name)
		}
	}
}

func (c *Controller) enqueueObject(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.loop.Add(key)
}

// enqueueSelecting queues every selector Service in the pod's namespace whose selector matches
// the pod's labels.
func (c *Controller) enqueueSelecting(pod *corev1.Pod) {
	if len(pod.Labels) == 0 {
		return
	}
	svcs, err := c.services.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	set := labels.Set(pod.Labels)
	for _, svc := range svcs {
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		if labels.SelectorFromValidatedSet(svc.Spec.Selector).Matches(set) {
			c.loop.Add(svc.Namespace + "/" + svc.Name)
		}
	}
}

func (c *Controller) addPod(obj any) {
	if pod, ok := obj.(*corev1.Pod); ok {
		c.enqueueSelecting(pod)
	}
}

func (c *Controller) updatePod(oldObj, curObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	cur, ok2 := curObj.(*corev1.Pod)
	if !ok1 || !ok2 || cur.ResourceVersion == old.ResourceVersion {
		return
	}
	relabelled := labelsChanged(old, cur)
	if !relabelled && !podEndpointsChanged(old, cur) {
		return
	}
	c.enqueueSelecting(cur)
	if relabelled {
		c.enqueueSelecting(old)
	}
}

func (c *Controller) deletePod(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		c.enqueueSelecting(pod)
	}
}

// changedEndpoints queues the Service of an Endpoints object the controller mirrors: one whose
// Service has no selector. The controller's own Endpoints need no reaction.
func (c *Controller) changedEndpoints(obj any) {
	ep, ok := obj.(*corev1.Endpoints)
	if !ok {
		return
	}
	svc, err := c.services.Services(ep.Namespace).Get(ep.Name)
	if err == nil && len(svc.Spec.Selector) == 0 {
		c.loop.Add(ep.Namespace + "/" + ep.Name)
	}
}

func (c *Controller) changedSlice(obj any) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || !managed(s) {
		return
	}
	if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
		c.loop.Add(s.Namespace + "/" + name)
	}
}

func (c *Controller) deletedSlice(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || !managed(s) {
		return
	}
	for _, o := range s.OwnerReferences {
		c.written.observeDeleted(o.UID, s.Name)
	}
	c.changedSlice(s)
}

// managed reports whether this controller manages the slice.
func managed(s *discoveryv1.EndpointSlice) bool {
	m := s.Labels[discoveryv1.LabelManagedBy]
	return m == ManagedBy || m == MirrorManagedBy
}

// slicesOf returns the cached slices labelled for the Service ns/name.
func (c *Controller) slicesOf(ns, name string) []*discoveryv1.EndpointSlice {
	return endpointslice.ForService(c.sliceIndex, ns, name)
}
