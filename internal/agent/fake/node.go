package fake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"runtime"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// LeaseNamespace holds node heartbeats, as in Kubernetes.
const LeaseNamespace = "kube-node-lease"

// Options describes the fake node. Name is required; the rest has defaults.
type Options struct {
	Name string
	// IP is the node's InternalIP and every pod's hostIP. Default 127.0.0.2.
	IP netip.Addr
	// PodCIDR is the range pod IPs come from; each fake node needs its own.
	// Default 127.1.0.0/16.
	PodCIDR netip.Prefix
	// Capacity is reported as capacity and allocatable. Missing entries
	// default to cpu 32, memory 256Gi, pods 1000.
	Capacity v1.ResourceList
	// Labels are added to the well-known node labels.
	Labels map[string]string
	// ReadyDelay is how long a bound pod stays Pending before it runs.
	ReadyDelay time.Duration
	// Workers write pod statuses concurrently. Default 128.
	Workers int
	// LeaseDuration (default 40s) and RenewInterval (default 10s) shape the
	// node Lease; StatusInterval (default 1m) is how often the Node's
	// conditions are re-posted.
	LeaseDuration, RenewInterval, StatusInterval time.Duration
	// KubeletVersion is reported in nodeInfo. Default "v1.33.0-skiff".
	KubeletVersion string
}

func (o *Options) setDefaults() error {
	if o.Name == "" {
		return errors.New("fake node: Options.Name is required")
	}
	if !o.IP.IsValid() {
		o.IP = netip.MustParseAddr("127.0.0.2")
	}
	if !o.PodCIDR.IsValid() {
		o.PodCIDR = netip.MustParsePrefix("127.1.0.0/16")
	}
	o.PodCIDR = o.PodCIDR.Masked()
	capacity := v1.ResourceList{
		v1.ResourceCPU:    resource.MustParse("32"),
		v1.ResourceMemory: resource.MustParse("256Gi"),
		v1.ResourcePods:   resource.MustParse("1000"),
	}
	maps.Copy(capacity, o.Capacity)
	o.Capacity = capacity
	if o.Workers <= 0 {
		o.Workers = 128
	}
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = 40 * time.Second
	}
	if o.RenewInterval <= 0 {
		o.RenewInterval = 10 * time.Second
	}
	if o.StatusInterval <= 0 {
		o.StatusInterval = time.Minute
	}
	if o.KubeletVersion == "" {
		o.KubeletVersion = "v1.33.0-skiff"
	}
	return nil
}

// Node is one fake node.
type Node struct {
	client kubernetes.Interface
	log    *slog.Logger
	opts   Options
	bootID string
	queue  workqueue.TypedRateLimitingInterface[string]
	pods   corelisters.PodLister

	lease *coordinationv1.Lease // last lease written; only Run's goroutine touches it

	mu   sync.Mutex // guards the fields below
	seen map[string]podRecord
	ips  *ipPool
}

// podRecord is what the node remembers of a pod it runs.
type podRecord struct {
	uid  types.UID
	seen time.Time // when the node first saw the pod bound to it
}

// New returns a fake node; nothing happens until Run.
func New(client kubernetes.Interface, log *slog.Logger, opts Options) *Node {
	return &Node{
		client: client,
		log:    log.With("component", "fake-node", "node", opts.Name),
		opts:   opts,
		bootID: string(uuid.NewUUID()),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 30*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "fake-node-" + opts.Name},
		),
		seen: map[string]podRecord{},
	}
}

// Run registers the node, keeps its Lease and status fresh and runs the pods
// bound to it until ctx is done.
func (n *Node) Run(ctx context.Context) error {
	if err := n.opts.setDefaults(); err != nil {
		return err
	}
	n.ips = newIPPool(n.opts.PodCIDR)
	defer n.queue.ShutDown()

	if err := n.retry(ctx, "register node", n.register); err != nil {
		return err
	}
	if err := n.retry(ctx, "renew lease", n.renewLease); err != nil {
		return err
	}

	factory := informers.NewSharedInformerFactoryWithOptions(n.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", n.opts.Name).String()
		}))
	podInformer := factory.Core().V1().Pods()
	n.pods = podInformer.Lister()
	enqueue := func(obj any) {
		if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			n.queue.Add(k)
		}
	}
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return fmt.Errorf("fake node: watch pods: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), podInformer.Informer().HasSynced) {
		return nil
	}

	var wg sync.WaitGroup
	for range n.opts.Workers {
		wg.Go(func() {
			for n.processNext(ctx) {
			}
		})
	}
	n.log.Info("running", "ip", n.opts.IP, "podCIDR", n.opts.PodCIDR)

	lease := time.NewTicker(n.opts.RenewInterval)
	status := time.NewTicker(n.opts.StatusInterval)
	defer lease.Stop()
	defer status.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-lease.C:
			if err := n.renewLease(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("renewing lease failed", "err", err)
			}
		case <-status.C:
			if err := n.register(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("posting node status failed", "err", err)
			}
		}
	}
	n.queue.ShutDown()
	wg.Wait()
	return nil
}

// retry calls f with back-off until it succeeds or ctx is done.
func (n *Node) retry(ctx context.Context, what string, f func(context.Context) error) error {
	backoff := wait.Backoff{Duration: 50 * time.Millisecond, Factor: 2, Cap: 5 * time.Second, Steps: 1 << 30}
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		n.log.Warn(what+" failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff.Step()):
		}
	}
}

// register creates or updates the Node and posts its status.
func (n *Node) register(ctx context.Context) error {
	nodes := n.client.CoreV1().Nodes()
	want := n.nodeObject()
	node, err := nodes.Get(ctx, n.opts.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		node, err = nodes.Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create node %s: %w", n.opts.Name, err)
		}
	case err != nil:
		return fmt.Errorf("get node %s: %w", n.opts.Name, err)
	default:
		changed := false
		for k, v := range want.Labels {
			if node.Labels[k] != v {
				if node.Labels == nil {
					node.Labels = map[string]string{}
				}
				node.Labels[k], changed = v, true
			}
		}
		if node.Spec.PodCIDR != want.Spec.PodCIDR {
			node.Spec.PodCIDR, node.Spec.PodCIDRs, changed = want.Spec.PodCIDR, want.Spec.PodCIDRs, true
		}
		if changed {
			if node, err = nodes.Update(ctx, node, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("update node %s: %w", n.opts.Name, err)
			}
		}
	}
	node = node.DeepCopy()
	conds := nodeConditions(node.Status.Conditions, metav1.Now())
	node.Status = want.Status
	node.Status.Conditions = conds
	if _, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update status of node %s: %w", n.opts.Name, err)
	}
	return nil
}

// nodeObject is the Node this fake kubelet reports.
func (n *Node) nodeObject() *v1.Node {
	labels := map[string]string{
		"beta.kubernetes.io/arch": runtime.GOARCH,
		"beta.kubernetes.io/os":   "linux",
		"kubernetes.io/arch":      runtime.GOARCH,
		"kubernetes.io/hostname":  n.opts.Name,
		"kubernetes.io/os":        "linux",
		"type":                    "fake",
	}
	maps.Copy(labels, n.opts.Labels)
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        n.opts.Name,
			Labels:      labels,
			Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0"},
		},
		Spec: v1.NodeSpec{PodCIDR: n.opts.PodCIDR.String(), PodCIDRs: []string{n.opts.PodCIDR.String()}},
		Status: v1.NodeStatus{
			Capacity:    n.opts.Capacity.DeepCopy(),
			Allocatable: n.opts.Capacity.DeepCopy(),
			Phase:       v1.NodeRunning,
			Addresses: []v1.NodeAddress{
				{Type: v1.NodeInternalIP, Address: n.opts.IP.String()},
				{Type: v1.NodeHostName, Address: n.opts.Name},
			},
			DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: 10250}},
			NodeInfo: v1.NodeSystemInfo{
				MachineID:               n.opts.Name,
				SystemUUID:              n.opts.Name,
				BootID:                  n.bootID,
				KernelVersion:           "fake",
				OSImage:                 "skiff fake node",
				ContainerRuntimeVersion: "fake://skiff",
				KubeletVersion:          n.opts.KubeletVersion,
				OperatingSystem:         "linux",
				Architecture:            runtime.GOARCH,
			},
		},
	}
}

// renewLease creates the node's Lease (and its namespace) or moves its renewTime.
func (n *Node) renewLease(ctx context.Context) error {
	leases := n.client.CoordinationV1().Leases(LeaseNamespace)
	now := metav1.NewMicroTime(time.Now())
	if n.lease != nil {
		l := n.lease.DeepCopy()
		l.Spec.RenewTime = &now
		updated, err := leases.Update(ctx, l, metav1.UpdateOptions{})
		if err == nil {
			n.lease = updated
			return nil
		}
		n.lease = nil
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return fmt.Errorf("renew lease %s: %w", n.opts.Name, err)
		}
	}
	l, err := leases.Get(ctx, n.opts.Name, metav1.GetOptions{})
	if err == nil {
		l = l.DeepCopy()
		l.Spec.RenewTime = &now
		if l, err = leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("renew lease %s: %w", n.opts.Name, err)
		}
		n.lease = l
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("get lease %s: %w", n.opts.Name, err)
	}
	_, err = n.client.CoreV1().Namespaces().Create(ctx, &v1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: LeaseNamespace},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", LeaseNamespace, err)
	}
	node, err := n.client.CoreV1().Nodes().Get(ctx, n.opts.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s for its lease: %w", n.opts.Name, err)
	}
	seconds := int32(n.opts.LeaseDuration / time.Second)
	holder := n.opts.Name
	l, err = leases.Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name: n.opts.Name, Namespace: LeaseNamespace,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
			}},
		},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &seconds, RenewTime: &now},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create lease %s: %w", n.opts.Name, err)
	}
	n.lease = l
	return nil
}
