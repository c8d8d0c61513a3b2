package nodeipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-dev/skiff/internal/controller"
)

// Options configure the controller.
type Options struct {
	ClusterCIDR  *net.IPNet // required
	NodeMaskSize int        // default 16
}

// Controller assigns pod CIDRs to nodes.
type Controller struct {
	client  kubernetes.Interface
	log     *slog.Logger
	loop    *controller.Loop[string] // node names
	factory informers.SharedInformerFactory
	nodes   corelisters.NodeLister
	synced  cache.InformerSynced

	mu    sync.Mutex // guards alloc
	alloc *allocator
}

// New builds the controller and its node informer; nothing happens until Run.
func New(client kubernetes.Interface, log *slog.Logger, opts Options) (*Controller, error) {
	if opts.ClusterCIDR == nil {
		return nil, errors.New("nodeipam: Options.ClusterCIDR is required")
	}
	if opts.NodeMaskSize == 0 {
		opts.NodeMaskSize = 16
	}
	alloc, err := newAllocator(opts.ClusterCIDR, opts.NodeMaskSize)
	if err != nil {
		return nil, err
	}
	c := &Controller{client: client, log: log.With("component", "nodeipam"), alloc: alloc,
		factory: informers.NewSharedInformerFactory(client, 0)}
	// Upstream's range allocator's policy: the default controller rate limiter, retried for as
	// long as it fails.
	c.loop = controller.New(controller.Config[string]{Name: "nodeipam", Log: c.log, Sync: c.sync, Prepare: c.occupyAssigned})
	inf := c.factory.Core().V1().Nodes()
	c.nodes = inf.Lister()
	c.synced = inf.Informer().HasSynced
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(obj) },
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if n, ok := obj.(*corev1.Node); ok {
				c.mu.Lock()
				c.alloc.release(n.Name)
				c.mu.Unlock()
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("nodeipam: watch nodes: %w", err)
	}
	return c, nil
}

// Run watches nodes and assigns pod CIDRs until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	c.factory.Start(ctx.Done())
	defer c.factory.Shutdown()
	return c.loop.Run(ctx, 1, c.synced)
}

// occupyAssigned takes the blocks already assigned, before any new node gets one.
func (c *Controller) occupyAssigned(context.Context) {
	all, _ := c.nodes.List(everything)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range all {
		for _, cidr := range n.Spec.PodCIDRs {
			c.alloc.occupy(cidr, n.Name)
		}
		if n.Spec.PodCIDR != "" {
			c.alloc.occupy(n.Spec.PodCIDR, n.Name)
		}
	}
}

func (c *Controller) enqueue(obj any) {
	if n, ok := obj.(*corev1.Node); ok && n.Spec.PodCIDR == "" {
		c.loop.Add(n.Name)
	}
}

func (c *Controller) sync(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if node.Spec.PodCIDR != "" {
		c.mu.Lock()
		c.alloc.occupy(node.Spec.PodCIDR, name)
		c.mu.Unlock()
		return nil
	}
	c.mu.Lock()
	cidr, err := c.alloc.allocate(name)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidr, "podCIDRs": []string{cidr}}})
	if _, err := c.client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		c.mu.Lock()
		c.alloc.release(name)
		c.mu.Unlock()
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("nodeipam: set pod CIDR of node %s: %w", name, err)
	}
	c.log.Info("assigned pod CIDR", "node", name, "cidr", cidr)
	return nil
}
