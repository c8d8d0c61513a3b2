package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/internal/endpointslice"
)

// Options configures a Proxy.
type Options struct {
	// NodeIP is this node's address: NodePorts and LoadBalancer ingress listen on it. Without it
	// the proxy serves cluster IPs only.
	NodeIP net.IP
	// NodeName is this node's Node name. Of the Ready nodes, the one whose name sorts first writes
	// the LoadBalancer ingress (its node IP) of LoadBalancer Services; empty: never.
	NodeName string
	// DialTimeout bounds each attempt to connect to an endpoint (default 1s).
	DialTimeout time.Duration
	// RefusedRetry is how long a new connection whose every endpoint refused keeps trying them
	// (default 500ms; negative: not at all).
	RefusedRetry time.Duration
	// UDPIdleTimeout ends a UDP flow with no datagram either way for this long (default 30s).
	UDPIdleTimeout time.Duration
	// BindRetryInterval is how soon an address that could not be bound (in use, not permitted)
	// is tried again (default 2s).
	BindRetryInterval time.Duration
	// Clock times session affinity (default: the wall clock).
	Clock clock.PassiveClock
}

// Proxy is the service proxy of one node. Create it with New, run it with Run.
type Proxy struct {
	client kubernetes.Interface
	log    *slog.Logger
	opts   Options
	nodeIP netip.Addr

	services   corelisters.ServiceLister
	nodes      corelisters.NodeLister
	sliceIndex cache.Indexer
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]

	dialer  net.Dialer
	conns   *connSet
	pending *pendingSet
	serving sync.WaitGroup // accept and read loops
	stats   stats
	metrics *metrics

	mu        sync.Mutex // guards the fields below
	listeners map[listenKey]*bound
	balancers map[portID]*balancer
	bindErrs  map[listenKey]string // the last bind error logged per address
	changed   chan struct{}        // closed and replaced whenever an endpoint list or listener changes
	stopped   bool
}

// bound is an open listener and the Service that holds it.
type bound struct {
	owner string // namespace/name
	l     listener
}

// listener is a TCP or UDP listener.
type listener interface {
	setBalancer(*balancer)
	close() error
}

// New returns a proxy that registers its informers (Services, EndpointSlices, Nodes) with
// factory; the caller starts factory. The factory must not filter those kinds.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger, opts Options) *Proxy {
	if log == nil {
		log = slog.Default()
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = time.Second
	}
	if opts.RefusedRetry == 0 {
		opts.RefusedRetry = 500 * time.Millisecond
	}
	if opts.UDPIdleTimeout <= 0 {
		opts.UDPIdleTimeout = 30 * time.Second
	}
	if opts.BindRetryInterval <= 0 {
		opts.BindRetryInterval = 2 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	p := &Proxy{
		client: client,
		log:    log.With("component", "proxy"),
		opts:   opts,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "proxy"},
		),
		dialer:    net.Dialer{Timeout: opts.DialTimeout, KeepAlive: -1},
		conns:     newConnSet(),
		pending:   newPendingSet(),
		listeners: map[listenKey]*bound{},
		balancers: map[portID]*balancer{},
		bindErrs:  map[listenKey]string{},
		changed:   make(chan struct{}),
	}
	p.metrics = newMetrics(func() float64 { return float64(p.conns.size()) })
	if ip, ok := netip.AddrFromSlice(opts.NodeIP); ok {
		p.nodeIP = ip.Unmap()
	}

	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	nodeInf := factory.Core().V1().Nodes()
	p.services = svcInf.Lister()
	p.nodes = nodeInf.Lister()
	p.sliceIndex = sliceInf.Informer().GetIndexer()
	if err := endpointslice.AddIndex(sliceInf.Informer()); err != nil {
		p.log.Error("adding slice index", "err", err)
	}
	handlers := []struct {
		informer cache.SharedIndexInformer
		funcs    cache.ResourceEventHandlerFuncs
	}{
		{svcInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    p.enqueueObject,
			UpdateFunc: func(_, cur any) { p.enqueueObject(cur) },
			DeleteFunc: p.enqueueObject,
		}},
		{sliceInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    p.enqueueSliceService,
			UpdateFunc: func(_, cur any) { p.enqueueSliceService(cur) },
			DeleteFunc: p.enqueueSliceService,
		}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { p.enqueueLoadBalancers() },
			UpdateFunc: p.nodeUpdated,
			DeleteFunc: func(any) { p.enqueueLoadBalancers() },
		}},
	}
	for _, h := range handlers {
		reg, err := h.informer.AddEventHandler(h.funcs)
		if err != nil {
			p.log.Error("adding event handler", "err", err)
			continue
		}
		p.synced = append(p.synced, reg.HasSynced)
	}
	return p
}

// Run proxies until ctx is done, then closes its listeners and the connections still open and
// returns nil. The informer factory must be started by the caller.
func (p *Proxy) Run(ctx context.Context) error {
	defer p.queue.ShutDown()
	p.log.Info("starting", "node_ip", p.nodeIP, "node", p.opts.NodeName)
	defer p.log.Info("stopped")
	if !cache.WaitForCacheSync(ctx.Done(), p.synced...) {
		p.shutdown()
		return fmt.Errorf("proxy: waiting for caches to sync: %w", ctx.Err())
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for p.processNext(ctx) {
			}
		})
	}
	<-ctx.Done()
	p.queue.ShutDown()
	wg.Wait()
	p.shutdown()
	return nil
}

// shutdown closes every listener and connection and waits for their goroutines.
func (p *Proxy) shutdown() {
	p.mu.Lock()
	p.stopped = true
	for k, b := range p.listeners {
		b.l.close()
		delete(p.listeners, k)
	}
	p.mu.Unlock()
	p.serving.Wait()
	p.conns.shutdown()
}

func (p *Proxy) processNext(ctx context.Context) bool {
	key, quit := p.queue.Get()
	if quit {
		return false
	}
	defer p.queue.Done(key)
	if err := p.sync(ctx, key); err != nil {
		if ctx.Err() == nil {
			p.log.Warn("sync failed, requeueing", "service", key, "err", err)
		}
		p.queue.AddRateLimited(key)
		return true
	}
	p.queue.Forget(key)
	return true
}

func (p *Proxy) enqueueObject(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		p.queue.Add(key)
	}
}

func (p *Proxy) enqueueSliceService(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
			p.queue.Add(s.Namespace + "/" + name)
		}
	}
}

func (p *Proxy) nodeUpdated(oldObj, curObj any) {
	old, ok1 := oldObj.(*corev1.Node)
	cur, ok2 := curObj.(*corev1.Node)
	if ok1 && ok2 && nodeReady(old) != nodeReady(cur) {
		p.enqueueLoadBalancers()
	}
}

// sync brings the listeners and endpoint lists of the Service key in line with the API.
func (p *Proxy) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := p.services.Services(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("get service %s: %w", key, err)
	}
	plans := planService(svc, p.slicesOf(ns, name), p.nodeIP)
	if retry := p.apply(key, plans); retry {
		p.queue.AddAfter(key, p.opts.BindRetryInterval)
	}
	if svc != nil {
		return p.syncLoadBalancer(ctx, svc)
	}
	return nil
}

// apply makes the listeners and balancers of the Service key match plans. It reports whether an
// address could not be bound and should be tried again later.
func (p *Proxy) apply(key string, plans []portPlan) (retry bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	wantListen := map[listenKey]bool{}
	wantPort := map[portID]bool{}
	changed := false
	for _, plan := range plans {
		bal := p.balancers[plan.id]
		if bal == nil {
			bal = newBalancer(plan.id.String(), p.opts.Clock)
			bal.counters = p.metrics.forPort(plan.id)
			p.balancers[plan.id] = bal
		}
		if bal.update(plan.endpoints, plan.affinity) {
			changed = true
			p.log.Debug("endpoints changed", "service", plan.id.String(), "endpoints", plan.endpoints)
		}
		wantPort[plan.id] = true
		for _, lk := range plan.listen {
			wantListen[lk] = true
			if b := p.listeners[lk]; b != nil {
				if b.owner != key {
					p.bindFailed(lk, key, fmt.Errorf("address already served for service %s", b.owner))
					retry = true
					continue
				}
				b.l.setBalancer(bal)
				continue
			}
			l, err := p.open(lk)
			if err != nil {
				p.bindFailed(lk, key, err)
				retry = true
				continue
			}
			l.setBalancer(bal)
			p.listeners[lk] = &bound{owner: key, l: l}
			delete(p.bindErrs, lk)
			changed = true
			p.log.Debug("listening", "service", plan.id.String(), "listen", lk.String())
		}
	}
	for lk, b := range p.listeners {
		if b.owner == key && !wantListen[lk] {
			b.l.close()
			delete(p.listeners, lk)
			changed = true
			p.log.Debug("stopped listening", "service", key, "listen", lk.String())
		}
	}
	for id, bal := range p.balancers {
		if id.namespace == ns && id.service == name && !wantPort[id] {
			bal.update(nil, 0)
			bal.counters.forget()
			delete(p.balancers, id)
			changed = true
		}
	}
	if changed {
		close(p.changed)
		p.changed = make(chan struct{})
	}
	return retry
}

// open binds lk and starts serving it.
func (p *Proxy) open(lk listenKey) (listener, error) {
	switch lk.proto {
	case corev1.ProtocolUDP:
		l, err := p.listenUDP(lk)
		if err != nil {
			return nil, err
		}
		p.serving.Go(func() { p.serveUDP(l) })
		return l, nil
	default:
		l, err := p.listenTCP(lk)
		if err != nil {
			return nil, err
		}
		p.serving.Go(func() { p.serveTCP(l) })
		return l, nil
	}
}

// bindFailed logs a failure to bind lk, once per distinct error.
func (p *Proxy) bindFailed(lk listenKey, key string, err error) {
	msg := err.Error()
	if p.bindErrs[lk] == msg {
		return
	}
	p.bindErrs[lk] = msg
	if errors.Is(err, syscall.EADDRINUSE) {
		// Expected where several nodes share a host: one proxy holds each cluster IP, and the
		// others take over if it goes.
		p.log.Info("address in use, perhaps by another node's proxy on this host; will retry", "service", key, "listen", lk.String(), "retry_every", p.opts.BindRetryInterval)
		return
	}
	p.log.Warn("cannot listen; will retry", "service", key, "listen", lk.String(), "err", err, "retry_every", p.opts.BindRetryInterval)
}

// slicesOf returns the cached EndpointSlices labelled for Service ns/name.
func (p *Proxy) slicesOf(ns, name string) []*discoveryv1.EndpointSlice {
	return endpointslice.ForService(p.sliceIndex, ns, name)
}

// WaitUntilNotServing blocks until this proxy sends no new connection to ip and every connection
// it sent there has had its first answer from the endpoint (or ended), or until ctx is done. A
// node agent calls it between marking a deleted pod unready and stopping its process: then no
// request this proxy forwarded can reach the application after it began shutting down.
func (p *Proxy) WaitUntilNotServing(ctx context.Context, ip net.IP) error {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return fmt.Errorf("proxy: invalid IP %v", ip)
	}
	addr = addr.Unmap()
	for {
		p.mu.Lock()
		serving := false
		for _, b := range p.balancers {
			if b.serves(addr) {
				serving = true
				break
			}
		}
		changed := p.changed
		p.mu.Unlock()
		if !serving {
			return p.pending.wait(ctx, addr)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("proxy: %s still in rotation: %w", addr, ctx.Err())
		}
	}
}
