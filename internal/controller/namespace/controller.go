package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-dev/skiff/internal/controller"
)

// Options tunes the controller.
type Options struct {
	// MinRetry and MaxRetry bound the delay before looking again at a
	// namespace whose content is not gone yet (defaults 50ms and 10s).
	MinRetry, MaxRetry time.Duration
}

// Controller empties and finalizes terminating namespaces.
type Controller struct {
	client     kubernetes.Interface
	meta       metadata.Interface
	resources  []schema.GroupVersionResource
	log        *slog.Logger
	loop       *controller.Loop[string] // namespace names
	namespaces corelisters.NamespaceLister
	synced     cache.InformerSynced
}

// New returns a controller that deletes the objects of resources (namespaced
// ones) in terminating namespaces through meta. Start factory after New, then Run.
func New(client kubernetes.Interface, meta metadata.Interface, factory informers.SharedInformerFactory,
	resources []schema.GroupVersionResource, log *slog.Logger, opts Options) *Controller {
	if opts.MinRetry <= 0 {
		opts.MinRetry = 50 * time.Millisecond
	}
	if opts.MaxRetry <= 0 {
		opts.MaxRetry = 10 * time.Second
	}
	inf := factory.Core().V1().Namespaces()
	c := &Controller{
		client:     client,
		meta:       meta,
		resources:  slices.Clone(resources),
		log:        log.With("component", "namespace-controller"),
		namespaces: inf.Lister(),
		synced:     inf.Informer().HasSynced,
	}
	// Retried for as long as it fails, as upstream. Upstream backs off 5ms to 60s per namespace
	// (10 retries a second overall) on errors, and looks again at a namespace whose content
	// remains after half its own estimate of the time left; skiff estimates nothing, and backs
	// off MinRetry to MaxRetry for both.
	c.loop = controller.New(controller.Config[string]{
		Name:        "namespace",
		Log:         c.log,
		Sync:        c.sync,
		RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[string](opts.MinRetry, opts.MaxRetry),
		LogLevel: func(err error) slog.Level {
			if errors.Is(err, errContentRemains) {
				return slog.LevelDebug
			}
			return slog.LevelWarn
		},
	})
	enqueue := func(obj any) {
		if ns, ok := obj.(*v1.Namespace); ok && ns.DeletionTimestamp != nil {
			c.loop.Add(ns.Name)
		}
	}
	inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	return c
}

// Run works with workers workers until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return c.loop.Run(ctx, workers, c.synced)
}

// errContentRemains fails the sync of a namespace whose content is not all gone yet, so that it
// is looked at again with back-off.
var errContentRemains = errors.New("namespace: content remains")

// sync takes one step for a terminating namespace: delete its content, and
// once nothing is left, finalize it. While content remains it returns
// errContentRemains.
func (c *Controller) sync(ctx context.Context, name string) error {
	ns, err := c.namespaces.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp == nil || !slices.Contains(ns.Spec.Finalizers, v1.FinalizerKubernetes) {
		return nil
	}
	p := c.deleteContent(ctx, name)
	if ns, err = c.updateConditions(ctx, ns, p); err != nil {
		return err
	}
	if !p.done() {
		return fmt.Errorf("%w in %s: remaining %v, %d failures", errContentRemains, name, p.remaining, len(p.failures))
	}
	ns = ns.DeepCopy()
	ns.Spec.Finalizers = slices.DeleteFunc(ns.Spec.Finalizers, func(f v1.FinalizerName) bool { return f == v1.FinalizerKubernetes })
	if _, err := c.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("finalize namespace %s: %w", name, err)
	}
	c.log.Info("namespace finalized", "namespace", name)
	return nil
}

// deleteContent deletes what is left of every resource in namespace ns and
// reports what still remains afterwards.
func (c *Controller) deleteContent(ctx context.Context, ns string) progress {
	p := progress{remaining: map[string]int{}, finalizers: map[string]int{}}
	for _, gvr := range c.resources {
		if err := c.deleteResource(ctx, gvr, ns, &p); err != nil {
			p.failures = append(p.failures, err.Error())
		}
	}
	return p
}

func (c *Controller) deleteResource(ctx context.Context, gvr schema.GroupVersionResource, ns string, p *progress) error {
	client := c.meta.Resource(gvr).Namespace(ns)
	list, err := client.List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
		return nil // not served
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", gvr.Resource, err)
	}
	pending := 0
	for _, item := range list.Items {
		if item.DeletionTimestamp == nil {
			pending++
		}
	}
	if pending > 0 {
		// Background, so that the collector does not orphan anything: all goes.
		background := metav1.DeletePropagationBackground
		opts := metav1.DeleteOptions{PropagationPolicy: &background}
		err := client.DeleteCollection(ctx, opts, metav1.ListOptions{})
		if apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err) {
			err = nil
			for _, item := range list.Items {
				if item.DeletionTimestamp != nil {
					continue
				}
				uidOpts := opts
				uidOpts.Preconditions = &metav1.Preconditions{UID: &item.UID}
				if e := client.Delete(ctx, item.Name, uidOpts); e != nil && !apierrors.IsNotFound(e) && !apierrors.IsConflict(e) {
					err = e
				}
			}
		}
		if err != nil {
			return fmt.Errorf("delete %s: %w", gvr.Resource, err)
		}
		if list, err = client.List(ctx, metav1.ListOptions{}); err != nil {
			return fmt.Errorf("list %s: %w", gvr.Resource, err)
		}
	}
	if n := len(list.Items); n > 0 {
		p.remaining[gvr.Resource+"."+gvr.Group] += n
		for _, item := range list.Items {
			for _, f := range item.Finalizers {
				p.finalizers[f]++
			}
		}
	}
	return nil
}

// updateConditions writes p into the namespace's conditions when they change
// and returns the namespace as now stored.
func (c *Controller) updateConditions(ctx context.Context, ns *v1.Namespace, p progress) (*v1.Namespace, error) {
	conds := conditions(ns.Status.Conditions, p, metav1.Now())
	if sameConditions(ns.Status.Conditions, conds) {
		return ns, nil
	}
	ns = ns.DeepCopy()
	ns.Status.Conditions = conds
	updated, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update status of namespace %s: %w", ns.Name, err)
	}
	return updated, nil
}
