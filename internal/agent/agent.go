package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/internal/agent/images"
	"github.com/skiff-dev/skiff/internal/agent/logs"
	"github.com/skiff-dev/skiff/internal/agent/process"
)

// Runtime runs containers. The process runtime (internal/agent/process) implements it.
type Runtime interface {
	Start(ctx context.Context, spec process.Spec) (string, error)
	Stop(ctx context.Context, id string, grace time.Duration) error
	State(id string) (process.State, bool)
	Exec(ctx context.Context, id string, argv []string) ([]byte, int, error)
	Remove(id string)
	// LogWriter returns a running (or not yet removed) container's log writer, for followers.
	LogWriter(id string) *logs.Writer
}

var _ Runtime = (*process.Runtime)(nil)

// Options configure an Agent. NodeName, NodeIP, DataDir, Images and Runtime are required.
type Options struct {
	NodeName string
	NodeIP   net.IP
	// DataDir holds pods' working directories and container logs.
	DataDir string
	Images  *images.Store
	Runtime Runtime
	// Labels are added to the Node's labels.
	Labels map[string]string
	// MaxPods is the node's pod capacity (default 110).
	MaxPods int
	// Version is the kubelet version the Node reports (default: the Kubernetes API version).
	Version string
	// ServingCertHash, if set, is published in the Node's skiff.dev/serving-cert-sha256
	// annotation so the API server can pin the agent's self-signed log endpoint.
	ServingCertHash string
	// Port is the agent's HTTPS port for logs, published as the kubelet endpoint (0: none).
	Port int
	// LimitsEnforced tells whether resources.limits are enforced (cgroups); the Node reports it.
	LimitsEnforced bool
	// BeforeStop, when set, is called for a terminating pod after its Ready=False status is
	// written and before any container is signalled: the node's service proxy uses it to wait
	// until the pod's IP is out of rotation and its in-flight connections have been answered.
	BeforeStop func(ctx context.Context, podIP net.IP) error
	// Services, when set, lists the Services whose environment variables pods get
	// (KUBIA_SERVICE_HOST, ...), as the kubelet does when enableServiceLinks is true.
	Services func() []*corev1.Service

	// Clock drives the agent's timers, probes and back-off (default: the real clock).
	Clock clock.WithTickerAndDelayedExecution

	StatusLinger   time.Duration // how long a status change waits to be batched (default 20ms)
	StatusWorkers  int           // parallel status writers (default 5)
	ShutdownGrace  time.Duration // grace for containers when the agent stops (default 2s)
	LeaseDuration  time.Duration // default 40s
	RenewInterval  time.Duration // lease renewal (default 10s)
	StatusInterval time.Duration // node status check (default 10s)
	ReportInterval time.Duration // node status write when nothing changed (default 1m)
}

// Agent is a node agent. Create it with New and call Run.
type Agent struct {
	client  kubernetes.Interface
	log     *slog.Logger
	opts    Options
	clock   clock.WithTickerAndDelayedExecution
	runtime Runtime
	backoff *backoff
	usage   *usageSampler
	status  *statusManager
	ips     *ipPool

	recorder record.EventRecorder

	pods  corelisters.PodLister
	nodes corelisters.NodeLister

	// streams is the inner streaming server's listener; innerTransport dials it.
	streams        *pipeListener
	innerTransport *http.Transport

	mu      sync.Mutex // guards workers
	workers map[types.UID]*podWorker
	wg      sync.WaitGroup // pod workers
	ctx     context.Context
}

// New checks opts and builds an agent; it does no I/O.
func New(client kubernetes.Interface, log *slog.Logger, opts Options) (*Agent, error) {
	switch {
	case opts.NodeName == "":
		return nil, errors.New("agent: Options.NodeName is required")
	case opts.NodeIP == nil:
		return nil, errors.New("agent: Options.NodeIP is required")
	case opts.DataDir == "":
		return nil, errors.New("agent: Options.DataDir is required")
	case opts.Images == nil:
		return nil, errors.New("agent: Options.Images is required")
	case opts.Runtime == nil:
		return nil, errors.New("agent: Options.Runtime is required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.MaxPods == 0 {
		opts.MaxPods = 110
	}
	if opts.StatusLinger == 0 {
		opts.StatusLinger = 20 * time.Millisecond
	}
	if opts.StatusWorkers == 0 {
		opts.StatusWorkers = 5
	}
	if opts.ShutdownGrace == 0 {
		opts.ShutdownGrace = 2 * time.Second
	}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration = 40 * time.Second
	}
	if opts.RenewInterval == 0 {
		opts.RenewInterval = 10 * time.Second
	}
	if opts.StatusInterval == 0 {
		opts.StatusInterval = 10 * time.Second
	}
	if opts.ReportInterval == 0 {
		opts.ReportInterval = time.Minute
	}
	if opts.Version == "" {
		opts.Version = kubeVersion()
	}
	if log == nil {
		log = slog.Default()
	}
	a := &Agent{client: client, log: log.With("component", "agent", "node", opts.NodeName), opts: opts,
		clock: opts.Clock, runtime: opts.Runtime, workers: map[types.UID]*podWorker{}}
	a.backoff = newBackoff(10*time.Second, 5*time.Minute, opts.Clock)
	a.usage = newUsageSampler()
	a.streams = newPipeListener()
	a.innerTransport = &http.Transport{DialContext: a.streams.DialContext}
	return a, nil
}

// Run registers the node and runs pods bound to it until ctx ends; then it stops their
// containers (SIGTERM, SIGKILL after ShutdownGrace) and returns.
func (a *Agent) Run(ctx context.Context) error {
	if err := os.MkdirAll(a.opts.DataDir, 0o700); err != nil {
		return fmt.Errorf("agent: create data dir: %w", err)
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	a.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: a.opts.NodeName})

	node, err := a.register(ctx)
	if err != nil {
		return err
	}
	a.log.Info("registered node", "ip", a.opts.NodeIP.String())
	a.recorder.Eventf(&corev1.ObjectReference{Kind: "Node", Name: node.Name, UID: types.UID(node.Name)},
		corev1.EventTypeNormal, "Starting", "Starting kubelet.")

	nodeFactory := informers.NewSharedInformerFactoryWithOptions(a.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + a.opts.NodeName }))
	nodeInformer := nodeFactory.Core().V1().Nodes()
	a.nodes = nodeInformer.Lister()
	nodeInformer.Informer()
	podFactory := informers.NewSharedInformerFactoryWithOptions(a.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName=" + a.opts.NodeName }))
	podInformer := podFactory.Core().V1().Pods()
	a.pods = podInformer.Lister()

	var bg sync.WaitGroup
	defer bg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bg.Add(1)
	go func() { defer bg.Done(); a.serveInnerStreams(ctx) }()
	nodeFactory.Start(ctx.Done())
	defer nodeFactory.Shutdown()
	bg.Add(3)
	go func() { defer bg.Done(); a.renewLease(ctx, node) }()
	go func() { defer bg.Done(); a.reportNodeStatus(ctx) }()
	go func() { defer bg.Done(); a.sampleUsage(ctx) }()

	cidr, err := a.waitForPodCIDR(ctx)
	if err != nil {
		return err
	}
	if a.ips, err = newIPPool(cidr); err != nil {
		return err
	}
	a.log.Info("pod CIDR assigned", "cidr", cidr)

	a.status = newStatusManager(a.client, a.log, a.opts.StatusLinger, func(ns, name string) (*corev1.Pod, bool) {
		p, err := a.pods.Pods(ns).Get(name)
		return p, err == nil
	})
	bg.Add(1)
	go func() { defer bg.Done(); a.status.Run(ctx, a.opts.StatusWorkers) }()

	a.ctx = ctx
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.podChanged(obj) },
		UpdateFunc: func(_, obj any) { a.podChanged(obj) },
		DeleteFunc: a.podDeleted,
	}); err != nil {
		return fmt.Errorf("agent: watch pods: %w", err)
	}
	podFactory.Start(ctx.Done())
	defer podFactory.Shutdown()

	<-ctx.Done()
	a.log.Info("stopping pods")
	a.wg.Wait()
	return nil
}

// waitForPodCIDR waits until the node IPAM controller has given the node its pod CIDR.
func (a *Agent) waitForPodCIDR(ctx context.Context) (string, error) {
	tick := a.clock.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	logged := false
	for {
		if n, err := a.nodes.Get(a.opts.NodeName); err == nil && n.Spec.PodCIDR != "" {
			return n.Spec.PodCIDR, nil
		}
		if !logged {
			a.log.Info("waiting for the node's pod CIDR")
			logged = true
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-tick.C():
		}
	}
}

func (a *Agent) podChanged(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if w, ok := a.workers[pod.UID]; ok {
		w.update(pod)
		return
	}
	if a.ctx.Err() != nil {
		return
	}
	w := newPodWorker(a, pod)
	a.workers[pod.UID] = w
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		w.run(a.ctx)
		a.mu.Lock()
		if a.workers[w.uid] == w {
			delete(a.workers, w.uid)
		}
		a.mu.Unlock()
	}()
}

func (a *Agent) podDeleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	w := a.workers[pod.UID]
	a.mu.Unlock()
	if w != nil {
		w.remove()
	}
}

// node is the agent's Node as last seen (nil before the informer has it).
func (a *Agent) node() *corev1.Node {
	if a.nodes == nil {
		return nil
	}
	n, err := a.nodes.Get(a.opts.NodeName)
	if err != nil {
		return nil
	}
	return n
}

// event records an event about pod, or about one of its containers when container is set.
func (a *Agent) event(pod *corev1.Pod, container, eventType, reason, format string, args ...any) {
	if a.recorder == nil {
		return
	}
	ref := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
		UID: pod.UID, ResourceVersion: pod.ResourceVersion}
	if container != "" {
		ref.FieldPath = fmt.Sprintf("spec.containers{%s}", container)
	}
	a.recorder.Eventf(ref, eventType, reason, format, args...)
}

// podDir is the pod's working directory for containers of built-in images.
func (a *Agent) podDir(pod *corev1.Pod) string {
	return filepath.Join(a.opts.DataDir, "pods", string(pod.UID))
}

// podLogRoot holds the pod's container logs, as /var/log/pods/<ns>_<name>_<uid> does.
func (a *Agent) podLogRoot(pod *corev1.Pod) string {
	return filepath.Join(a.opts.DataDir, "logs", pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
}

func (a *Agent) logDir(pod *corev1.Pod, container string) string {
	return filepath.Join(a.podLogRoot(pod), container)
}

// StatusWrites is how many pod status writes the agent has sent.
func (a *Agent) StatusWrites() int64 {
	if a.status == nil {
		return 0
	}
	return a.status.writes.Load()
}
