package resourcequota

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-dev/skiff/internal/controller"
	"github.com/skiff-dev/skiff/internal/quota"
)

// Options tunes the controller.
type Options struct {
	// ResyncPeriod is how often every quota is recomputed even without
	// changes (default 5m, as upstream); negative disables it.
	ResyncPeriod time.Duration
}

// Controller keeps ResourceQuota status current.
type Controller struct {
	client kubernetes.Interface
	log    *slog.Logger
	opts   Options
	loop   *controller.Loop[string] // quota keys
	synced []cache.InformerSynced

	quotas     corelisters.ResourceQuotaLister
	pods       corelisters.PodLister
	services   corelisters.ServiceLister
	rcs        corelisters.ReplicationControllerLister
	configMaps corelisters.ConfigMapLister
	secrets    corelisters.SecretLister
}

// New returns a controller fed by factory; start factory after New, then Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, opts Options) *Controller {
	if opts.ResyncPeriod == 0 {
		opts.ResyncPeriod = 5 * time.Minute
	}
	core := factory.Core().V1()
	c := &Controller{
		client:     client,
		log:        log.With("component", "resourcequota-controller"),
		opts:       opts,
		quotas:     core.ResourceQuotas().Lister(),
		pods:       core.Pods().Lister(),
		services:   core.Services().Lister(),
		rcs:        core.ReplicationControllers().Lister(),
		configMaps: core.ConfigMaps().Lister(),
		secrets:    core.Secrets().Lister(),
	}
	// Upstream's policy: the default controller rate limiter, retried for as long as it fails.
	c.loop = controller.New(controller.Config[string]{Name: "resourcequota", Log: c.log, Sync: c.sync})
	quotaKey := func(obj any) {
		if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.loop.Add(k)
		}
	}
	core.ResourceQuotas().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    quotaKey,
		UpdateFunc: func(_, obj any) { quotaKey(obj) },
	})
	// A change to a counted object re-syncs the quotas of its namespace, and
	// only when what it counts for changed (pod status writes mostly do not).
	counted := cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueueNamespaceOf,
		UpdateFunc: func(old, cur any) {
			if !equality.Semantic.DeepEqual(quota.ObjectUsage(old.(runtime.Object)), quota.ObjectUsage(cur.(runtime.Object))) {
				c.enqueueNamespaceOf(cur)
			}
		},
		DeleteFunc: c.enqueueNamespaceOf,
	}
	for _, inf := range []cache.SharedIndexInformer{
		core.Pods().Informer(), core.Services().Informer(), core.ReplicationControllers().Informer(),
		core.ConfigMaps().Informer(), core.Secrets().Informer(),
	} {
		inf.AddEventHandler(counted)
		c.synced = append(c.synced, inf.HasSynced)
	}
	c.synced = append(c.synced, core.ResourceQuotas().Informer().HasSynced)
	return c
}

func (c *Controller) enqueueNamespaceOf(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	quotas, _ := c.quotas.ResourceQuotas(m.GetNamespace()).List(labels.Everything())
	for _, q := range quotas {
		c.loop.Add(q.Namespace + "/" + q.Name)
	}
}

// Run syncs quotas with workers workers until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	if c.opts.ResyncPeriod > 0 {
		wg.Go(func() { c.resync(ctx) })
	}
	return c.loop.Run(ctx, workers, c.synced...)
}

// resync queues every quota each ResyncPeriod until ctx is done.
func (c *Controller) resync(ctx context.Context) {
	t := time.NewTicker(c.opts.ResyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			quotas, _ := c.quotas.List(labels.Everything())
			for _, q := range quotas {
				c.loop.Add(q.Namespace + "/" + q.Name)
			}
		}
	}
}

// sync recomputes one quota's status and writes it if it changed.
func (c *Controller) sync(ctx context.Context, k string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return nil
	}
	rq, err := c.quotas.ResourceQuotas(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	objects, err := c.objectsFor(rq)
	if err != nil {
		return err
	}
	used := quota.Usage(rq, objects)
	if equality.Semantic.DeepEqual(rq.Status.Hard, rq.Spec.Hard) && equality.Semantic.DeepEqual(rq.Status.Used, used) {
		return nil
	}
	rq = rq.DeepCopy()
	rq.Status.Hard = rq.Spec.Hard.DeepCopy()
	rq.Status.Used = used
	if _, err := c.client.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, rq, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("update status of resourcequota %s: %w", k, err)
	}
	return nil
}

// objectsFor lists, from the caches, the namespace's objects of the kinds
// rq limits.
func (c *Controller) objectsFor(rq *v1.ResourceQuota) ([]runtime.Object, error) {
	var out []runtime.Object
	ns, all := rq.Namespace, labels.Everything()
	if quota.LimitsKindOf(rq, &v1.Pod{}) {
		items, err := c.pods.Pods(ns).List(all)
		if err != nil {
			return nil, err
		}
		out = appendObjects(out, items)
	}
	if quota.LimitsKindOf(rq, &v1.Service{}) {
		items, err := c.services.Services(ns).List(all)
		if err != nil {
			return nil, err
		}
		out = appendObjects(out, items)
	}
	if quota.LimitsKindOf(rq, &v1.ReplicationController{}) {
		items, err := c.rcs.ReplicationControllers(ns).List(all)
		if err != nil {
			return nil, err
		}
		out = appendObjects(out, items)
	}
	if quota.LimitsKindOf(rq, &v1.ConfigMap{}) {
		items, err := c.configMaps.ConfigMaps(ns).List(all)
		if err != nil {
			return nil, err
		}
		out = appendObjects(out, items)
	}
	if quota.LimitsKindOf(rq, &v1.Secret{}) {
		items, err := c.secrets.Secrets(ns).List(all)
		if err != nil {
			return nil, err
		}
		out = appendObjects(out, items)
	}
	return out, nil
}

func appendObjects[T runtime.Object](out []runtime.Object, items []T) []runtime.Object {
	for _, o := range items {
		out = append(out, o)
	}
	return out
}
