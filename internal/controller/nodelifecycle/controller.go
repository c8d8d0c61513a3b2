package nodelifecycle

import (
	"context"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// Options configure the controller; zero values take the defaults.
type Options struct {
	GracePeriod       time.Duration // silence after which a node is Unknown (default 40s)
	DefaultToleration time.Duration // how long pods tolerate not-ready/unreachable (default 300s)
	MonitorPeriod     time.Duration // how often nodes are checked (default 5s)
	Clock             clock.WithTicker
}

// Controller watches node heartbeats and evicts pods from lost nodes.
type Controller struct {
	client kubernetes.Interface
	log    *slog.Logger
	opts   Options
	clock  clock.WithTicker

	nodes  corelisters.NodeLister
	leases coordlisters.LeaseLister
	pods   cache.Indexer // by spec.nodeName

	mu   sync.Mutex // guards seen
	seen map[string]heartbeat
}

// heartbeat is the last heartbeat seen from a node and when the controller saw it change. The
// controller's own clock decides, not the node's timestamps.
type heartbeat struct {
	lease, ready time.Time // lease renewTime and Ready's lastHeartbeatTime as reported
	observed     time.Time
}

const byNode = "spec.nodeName"

// New builds the controller; nothing happens until Run.
func New(client kubernetes.Interface, log *slog.Logger, opts Options) *Controller {
	if opts.GracePeriod == 0 {
		opts.GracePeriod = 40 * time.Second
	}
	if opts.DefaultToleration == 0 {
		opts.DefaultToleration = 300 * time.Second
	}
	if opts.MonitorPeriod == 0 {
		opts.MonitorPeriod = 5 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &Controller{client: client, log: log.With("component", "nodelifecycle"), opts: opts, clock: opts.Clock,
		seen: map[string]heartbeat{}}
}

// Run checks nodes every MonitorPeriod until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactory(c.client, 0)
	nodeInf := factory.Core().V1().Nodes()
	podInf := factory.Core().V1().Pods()
	c.nodes = nodeInf.Lister()
	leaseFactory := informers.NewSharedInformerFactoryWithOptions(c.client, 0, informers.WithNamespace(corev1.NamespaceNodeLease))
	leaseInf := leaseFactory.Coordination().V1().Leases()
	c.leases = leaseInf.Lister()
	if err := podInf.Informer().AddIndexers(cache.Indexers{byNode: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}}); err != nil {
		return err
	}
	c.pods = podInf.Informer().GetIndexer()
	factory.Start(ctx.Done())
	leaseFactory.Start(ctx.Done())
	defer factory.Shutdown()
	defer leaseFactory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), nodeInf.Informer().HasSynced, podInf.Informer().HasSynced, leaseInf.Informer().HasSynced) {
		return ctx.Err()
	}
	tick := c.clock.NewTicker(c.opts.MonitorPeriod)
	defer tick.Stop()
	for {
		c.monitor(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C():
		}
	}
}

// monitor checks every node once.
func (c *Controller) monitor(ctx context.Context) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	now := c.clock.Now()
	live := map[string]bool{}
	for _, n := range nodes {
		live[n.Name] = true
		if err := c.checkNode(ctx, n, now); err != nil && ctx.Err() == nil {
			c.log.Warn("checking node", "node", n.Name, "err", err)
		}
	}
	c.mu.Lock()
	for name := range c.seen {
		if !live[name] {
			delete(c.seen, name)
		}
	}
	c.mu.Unlock()
}

func (c *Controller) checkNode(ctx context.Context, n *corev1.Node, now time.Time) error {
	hb := heartbeat{}
	if l, err := c.leases.Leases(corev1.NamespaceNodeLease).Get(n.Name); err == nil {
		hb.lease = renewTime(l)
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			hb.ready = cond.LastHeartbeatTime.Time
		}
	}
	c.mu.Lock()
	prev, ok := c.seen[n.Name]
	if !ok || !prev.lease.Equal(hb.lease) || !prev.ready.Equal(hb.ready) {
		hb.observed = now
	} else {
		hb.observed = prev.observed
	}
	c.seen[n.Name] = hb
	c.mu.Unlock()

	nowT := metav1.NewTime(now.Truncate(time.Second))
	if now.Sub(hb.observed) > c.opts.GracePeriod && readyStatus(n) != corev1.ConditionUnknown {
		conds, changed := unknownConditions(n, nowT)
		if changed {
			upd := n.DeepCopy()
			upd.Status.Conditions = conds
			updated, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, upd, metav1.UpdateOptions{})
			if err != nil {
				return err
			}
			c.log.Info("node stopped reporting; marked NotReady", "node", n.Name, "silent_for", now.Sub(hb.observed).Round(time.Second))
			n = updated
			c.markPodsNotReady(ctx, n.Name, nowT)
		}
	}
	if taints, changed := wantTaints(n, nowT); changed {
		upd := n.DeepCopy()
		upd.Spec.Taints = taints
		updated, err := c.client.CoreV1().Nodes().Update(ctx, upd, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		n = updated
	}
	return c.evict(ctx, n, now)
}

func renewTime(l *coordinationv1.Lease) time.Time {
	if l.Spec.RenewTime == nil {
		return time.Time{}
	}
	return l.Spec.RenewTime.Time
}

// markPodsNotReady sets Ready=False on the node's pods so their Services stop sending to them.
func (c *Controller) markPodsNotReady(ctx context.Context, node string, now metav1.Time) {
	objs, _ := c.pods.ByIndex(byNode, node)
	for _, o := range objs {
		pod := o.(*corev1.Pod)
		upd := pod.DeepCopy()
		changed := false
		for i := range upd.Status.Conditions {
			cond := &upd.Status.Conditions[i]
			if cond.Type == corev1.PodReady && cond.Status != corev1.ConditionFalse {
				cond.Status, cond.LastTransitionTime = corev1.ConditionFalse, now
				cond.Reason, cond.Message = "NodeNotReady", "Node is not ready"
				changed = true
			}
		}
		if !changed {
			continue
		}
		if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			c.log.Warn("marking pod not ready", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
	}
}

// evict deletes the node's pods whose toleration of its NoExecute taints has run out.
func (c *Controller) evict(ctx context.Context, n *corev1.Node, now time.Time) error {
	hasNoExecute := false
	for _, t := range n.Spec.Taints {
		hasNoExecute = hasNoExecute || t.Effect == corev1.TaintEffectNoExecute
	}
	if !hasNoExecute {
		return nil
	}
	objs, _ := c.pods.ByIndex(byNode, n.Name)
	for _, o := range objs {
		pod := o.(*corev1.Pod)
		if pod.DeletionTimestamp != nil {
			continue
		}
		at, ok := evictAt(pod, n.Spec.Taints, c.opts.DefaultToleration)
		if !ok || now.Before(at) {
			continue
		}
		uid := pod.UID
		err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
		c.log.Info("evicted pod from node", "pod", pod.Namespace+"/"+pod.Name, "node", n.Name)
	}
	return nil
}
