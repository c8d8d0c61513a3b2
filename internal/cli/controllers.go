package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/internal/agent"
	"github.com/skiff-dev/skiff/internal/agent/fake"
	"github.com/skiff-dev/skiff/internal/controller/deployment"
	"github.com/skiff-dev/skiff/internal/controller/endpoints"
	"github.com/skiff-dev/skiff/internal/controller/garbagecollector"
	"github.com/skiff-dev/skiff/internal/controller/namespace"
	"github.com/skiff-dev/skiff/internal/controller/replicaset"
	"github.com/skiff-dev/skiff/internal/controller/resourcequota"
	"github.com/skiff-dev/skiff/internal/controller/serviceaccount"
	"github.com/skiff-dev/skiff/internal/proxy"
	"github.com/skiff-dev/skiff/internal/registry"
	"github.com/skiff-dev/skiff/internal/scheduler"
)

// componentOptions are the flags choosing what runs inside `skiff server` besides the API.
type componentOptions struct {
	runtime  string   // process, fake or none: the embedded node agent
	nodeName string   // the embedded node's name (default: the host name)
	disable  []string // controllers switched off
}

// controllerNames lists every controller `--disable` accepts, in start order.
var controllerNames = []string{"deployment", "replicaset", "replicationcontroller", "scheduler", "nodeipam", "nodelifecycle",
	"garbagecollector", "namespace", "resourcequota", "serviceaccount", "endpoints"}

func (o *componentOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.runtime, "runtime", o.runtime, "Embedded node agent: process (pods are real processes), fake (pods are Ready at once, for tests and scale) or none")
	fs.StringVar(&o.nodeName, "node-name", o.nodeName, "Name of the embedded node (default: this host's name)")
	fs.StringSliceVar(&o.disable, "disable", o.disable, "Controllers not to run, any of: "+strings.Join(controllerNames, ", "))
}

func (o *componentOptions) validate() error {
	switch o.runtime {
	case "process", "fake", "none":
	default:
		return fmt.Errorf("cli: --runtime %q: want process, fake or none", o.runtime)
	}
	known := map[string]bool{}
	for _, n := range controllerNames {
		known[n] = true
	}
	for _, d := range o.disable {
		if !known[d] {
			return fmt.Errorf("cli: --disable %q: not a controller (have %s)", d, strings.Join(controllerNames, ", "))
		}
	}
	return nil
}

// componentConfig is what startControllers needs beyond the client config.
type componentConfig struct {
	componentOptions
	nodeIP    net.IP
	nodes     nodeOptions
	dataDir   string
	podLogs   *agent.LogProxy
	resources []*registry.Resource // what the API server serves: the GC and namespace controller cover all of it
	caPEM     []byte               // published in every namespace as kube-root-ca.crt
	// registerMetrics adds the embedded node's series to the server's /metrics.
	registerMetrics func(...prometheus.Collector) error
}

// startControllers starts the components that run inside the server as ordinary API clients
// (controllers, scheduler, the embedded node), talking to it through cfg. It returns once they
// are started, with a function that waits for them to stop after ctx is done.
func startControllers(ctx context.Context, cfg *rest.Config, cc componentConfig, log *slog.Logger) (wait func(), err error) {
	cfg = configAs(cfg, "kube-controller-manager")
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cli: controller client: %w", err)
	}
	clientAs := func(product string) (kubernetes.Interface, error) {
		c, err := kubernetes.NewForConfig(configAs(cfg, product))
		if err != nil {
			return nil, fmt.Errorf("cli: %s client: %w", product, err)
		}
		return c, nil
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	disabled := map[string]bool{}
	for _, d := range cc.disable {
		disabled[d] = true
	}
	type component struct {
		name string
		run  func(context.Context) error
	}
	var comps []component
	add := func(name string, run func(context.Context) error) {
		if disabled[name] {
			log.Info("controller disabled", "controller", name)
			return
		}
		comps = append(comps, component{name, run})
	}
	// Each component scopes its own logger ("component" and its name); they get the base one.

	if !disabled["deployment"] {
		c := deployment.New(client, factory, log)
		add("deployment", func(ctx context.Context) error { return c.Run(ctx, 5) })
	}
	if !disabled["replicaset"] {
		c := replicaset.New(client, factory, log)
		add("replicaset", func(ctx context.Context) error { return c.Run(ctx, 5) })
	}
	if !disabled["replicationcontroller"] {
		c := replicaset.NewForReplicationControllers(client, factory, log)
		add("replicationcontroller", func(ctx context.Context) error { return c.Run(ctx, 5) })
	}
	if !disabled["scheduler"] {
		schedClient, err := clientAs("kube-scheduler")
		if err != nil {
			return nil, err
		}
		s := scheduler.New(schedClient, factory, log, scheduler.Options{})
		add("scheduler", func(ctx context.Context) error { return s.Run(ctx, 4) })
	}
	metaClient, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cli: metadata client: %w", err)
	}
	metaFactory := metadatainformer.NewSharedInformerFactory(metaClient, 0)
	var all, namespaced []schema.GroupVersionResource
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, r := range cc.resources {
		scope := meta.RESTScopeRoot
		if r.Namespaced {
			scope = meta.RESTScopeNamespace
		}
		// As upstream, the garbage collector and the namespace controller cover the resources
		// that can be listed, watched and deleted (not, say, the create-only access reviews).
		if collectable(r) {
			all = append(all, r.GVR)
			if r.Namespaced {
				namespaced = append(namespaced, r.GVR)
			}
		}
		gv := r.GVR.GroupVersion()
		mapper.AddSpecific(gv.WithKind(r.Kind), r.GVR, gv.WithResource(r.SingularName), scope)
		for _, alt := range r.Versions {
			mapper.AddSpecific(alt.GroupVersion.WithKind(r.Kind), alt.GroupVersion.WithResource(r.GVR.Resource), alt.GroupVersion.WithResource(r.SingularName), scope)
		}
	}
	if !disabled["garbagecollector"] {
		gc, err := garbagecollector.New(metaClient, metaFactory, mapper, all, log, garbagecollector.Options{})
		if err != nil {
			return nil, fmt.Errorf("cli: garbage collector: %w", err)
		}
		add("garbagecollector", func(ctx context.Context) error { return gc.Run(ctx, 5) })
	}
	if !disabled["namespace"] {
		c := namespace.New(client, metaClient, factory, namespaced, log, namespace.Options{})
		add("namespace", func(ctx context.Context) error { return c.Run(ctx, 2) })
	}
	if !disabled["resourcequota"] {
		c := resourcequota.New(client, factory, log, resourcequota.Options{})
		add("resourcequota", func(ctx context.Context) error { return c.Run(ctx, 2) })
	}
	if !disabled["serviceaccount"] {
		c := serviceaccount.New(client, factory, cc.caPEM, log, serviceaccount.Options{})
		add("serviceaccount", func(ctx context.Context) error { return c.Run(ctx, 2) })
	}

	if !disabled["endpoints"] {
		c := endpoints.New(client, factory, log, endpoints.Options{})
		add("endpoints", func(ctx context.Context) error { return c.Run(ctx, 5) })
	}

	ipam, lifecycle, err := nodeControllers(client, cc.nodes, cc.podLogs, log)
	if err != nil {
		return nil, err
	}
	add("nodeipam", ipam)
	add("nodelifecycle", lifecycle)
	nodeClient, err := clientAs("kubelet")
	if err != nil {
		return nil, err
	}
	proxyClient, err := clientAs("kube-proxy")
	if err != nil {
		return nil, err
	}
	switch cc.runtime {
	case "process":
		// the node's service proxy: ClusterIPs and NodePorts on this node's IP
		px := proxy.New(proxyClient, factory, log, proxy.Options{NodeIP: cc.nodeIP, NodeName: cc.nodeName})
		if err := cc.registerMetrics(px.Collectors()...); err != nil {
			return nil, err
		}
		comps = append(comps, component{"proxy", px.Run})
		services := serviceLister(factory)
		comps = append(comps, component{"node-agent", func(ctx context.Context) error {
			return runEmbeddedAgent(ctx, nodeClient, cc.nodeName, cc.nodeIP, cc.dataDir, cc.nodes, cc.podLogs, px, services, cc.registerMetrics, log)
		}})
	case "fake":
		// a fake node is for scale: room for thousands of pods
		opts := fake.Options{Name: cc.nodeName, Capacity: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10000")}}
		if ip, ok := netip.AddrFromSlice(cc.nodeIP.To4()); ok {
			opts.IP = ip
		}
		n := fake.New(nodeClient, log, opts)
		comps = append(comps, component{"fake-node", n.Run})
	}

	factory.Start(ctx.Done())
	metaFactory.Start(ctx.Done())
	var wg sync.WaitGroup
	for _, c := range comps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.run(ctx); err != nil && ctx.Err() == nil {
				log.Error("component stopped", "component", c.name, "err", err)
			}
		}()
	}
	names := make([]string, 0, len(comps))
	for _, c := range comps {
		names = append(names, c.name)
	}
	sort.Strings(names)
	log.Debug("components started", "components", names)
	return func() { wg.Wait(); factory.Shutdown(); metaFactory.Shutdown() }, nil
}

// configAs returns a copy of cfg whose requests name product as their user agent, the way the
// upstream component of that name identifies itself ("kube-scheduler/v1.33.0 (linux/amd64)
// kubernetes/..."): the API server records a write without a fieldManager under the product,
// so the managed fields of what skiff's components write name them as upstream's are named.
func configAs(cfg *rest.Config, product string) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.UserAgent = fmt.Sprintf("%s/skiff (%s/%s) kubernetes/skiff", product, goruntime.GOOS, goruntime.GOARCH)
	return c
}

// collectable reports whether r serves the verbs the garbage collector and the namespace
// controller need: list, watch and delete.
func collectable(r *registry.Resource) bool {
	for _, v := range []string{"list", "watch", "delete"} {
		if !slices.Contains(r.Verbs, v) {
			return false
		}
	}
	return true
}
