package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/internal/agent"
	"github.com/skiff-dev/skiff/internal/agent/fake"
	"github.com/skiff-dev/skiff/internal/agent/images"
	"github.com/skiff-dev/skiff/internal/agent/process"
	"github.com/skiff-dev/skiff/internal/controller/nodeipam"
	"github.com/skiff-dev/skiff/internal/controller/nodelifecycle"
	"github.com/skiff-dev/skiff/internal/metrics"
	"github.com/skiff-dev/skiff/internal/proxy"
)

// agentOptions are the flags of `skiff agent`.
type agentOptions struct {
	server    string
	tokenFile string
	caFile    string
	nodeName  string
	nodeIP    string
	dataDir   string
	imagesDir string
	runtime   string
	port      int
	maxPods   int
	leaseDur  time.Duration
	logLevel  string
	logFormat string
}

// NewAgentCommand returns `skiff agent`: a node agent that joins a skiff server and runs the pods
// scheduled to its node as processes.
func NewAgentCommand() *cobra.Command {
	o := &agentOptions{nodeIP: "127.0.0.1", runtime: "process", port: 10250, logLevel: "info", logFormat: "text"}
	cmd := &cobra.Command{
		Use:   "agent --server URL --token-file FILE --node-name NAME --node-ip IP",
		Short: "Join a skiff server as a node and run the pods scheduled to it",
		Long: `Join a skiff server as a node and run the pods scheduled to it as processes.

The agent authenticates with the server's agent token (DATA_DIR/agent-token of the server) and
trusts the server's CA (DATA_DIR/ca.crt; by default the ca.crt next to the token file). Every
node needs its own --node-name and --node-ip in 127.0.0.0/8; the server assigns it a pod range.
Stopping the agent stops its pods' processes; a new agent on the same --data-dir restarts them.`,
		Example: `  skiff agent --server https://127.0.0.1:6443 --token-file ~/.local/share/skiff/agent-token \
    --node-name n2 --node-ip 127.0.0.2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), o.logLevel, o.logFormat)
			if err != nil {
				return err
			}
			klog.SetSlogLogger(log)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			context.AfterFunc(ctx, stop)
			return runAgent(ctx, o, log)
		},
	}
	var fss cliflag.NamedFlagSets
	fs := fss.FlagSet("cluster")
	fs.StringVar(&o.server, "server", o.server, "URL of the skiff server to join, e.g. https://127.0.0.1:6443")
	fs.StringVar(&o.tokenFile, "token-file", o.tokenFile, "File holding the server's agent token (the server's DATA_DIR/agent-token)")
	fs.StringVar(&o.caFile, "ca-file", o.caFile, "The server's CA certificate (default: ca.crt next to --token-file)")
	fs = fss.FlagSet("node")
	fs.StringVar(&o.nodeName, "node-name", o.nodeName, "Name of this node (default: the host name)")
	fs.StringVar(&o.nodeIP, "node-ip", o.nodeIP, "IP address of this node, in 127.0.0.0/8 for nodes on one machine")
	fs.IntVar(&o.port, "port", o.port, "HTTPS port on --node-ip where the agent serves container logs to the server")
	fs.IntVar(&o.maxPods, "max-pods", 110, "Number of pods this node can run")
	fs.StringVar(&o.runtime, "runtime", o.runtime, "Container runtime: process (real processes) or fake (pods turn Ready without running anything)")
	fs.DurationVar(&o.leaseDur, "node-lease-duration", 40*time.Second, "Duration of the node's Lease; the agent renews it every quarter of that")
	fs = fss.FlagSet("storage")
	fs.StringVar(&o.dataDir, "data-dir", o.dataDir, "Directory for the agent's pods, logs and state (default: the default data directory's agents/NODE-NAME)")
	fs.StringVar(&o.imagesDir, "images-dir", o.imagesDir, "Image store, shared with `skiff image` (default: the default data directory's images)")
	fs = fss.FlagSet("logging")
	fs.StringVar(&o.logLevel, "log-level", o.logLevel, "Least severe log level written to stderr: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", o.logFormat, "Log format: text or json")
	for _, name := range fss.Order {
		cmd.Flags().AddFlagSet(fss.FlagSets[name])
	}
	cliflag.SetUsageAndHelpFunc(cmd, fss, 0)
	return cmd
}

func runAgent(ctx context.Context, o *agentOptions, log *slog.Logger) error {
	if o.server == "" || o.tokenFile == "" {
		return errors.New("cli: --server and --token-file are required")
	}
	tok, err := os.ReadFile(o.tokenFile)
	if err != nil {
		return fmt.Errorf("cli: read --token-file: %w", err)
	}
	token := strings.TrimSpace(string(tok))
	caFile := o.caFile
	if caFile == "" {
		caFile = filepath.Join(filepath.Dir(o.tokenFile), caCertFile)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("cli: read the server's CA (--ca-file): %w", err)
	}
	nodeIP := net.ParseIP(o.nodeIP)
	if nodeIP == nil {
		return fmt.Errorf("cli: --node-ip %q is not an IP address", o.nodeIP)
	}
	name := o.nodeName
	if name == "" {
		if name, err = os.Hostname(); err != nil {
			return fmt.Errorf("cli: --node-name not given and no host name: %w", err)
		}
	}
	name = strings.ToLower(name)
	base, err := DefaultDataDir()
	if err != nil && (o.dataDir == "" || o.imagesDir == "") {
		return err
	}
	dataDir, imagesDir := o.dataDir, o.imagesDir
	if dataDir == "" {
		dataDir = filepath.Join(base, "agents", name)
	}
	if imagesDir == "" {
		imagesDir = filepath.Join(base, "images")
	}
	metrics.Install() // before the clients and queues it counts are made
	cfg := &rest.Config{Host: o.server, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: ca},
		QPS: 100, Burst: 200}
	// named as a kubelet, for the managed fields of what it writes; the node name follows
	cfg = configAs(cfg, "kubelet")
	cfg.UserAgent += "/" + name
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("cli: client for %s: %w", o.server, err)
	}
	switch o.runtime {
	case "process":
	case "fake":
		return runFakeNode(ctx, client, name, nodeIP, log)
	default:
		return fmt.Errorf("cli: --runtime %q: want process or fake", o.runtime)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(nodeIP.String(), strconv.Itoa(o.port)))
	if err != nil {
		return fmt.Errorf("cli: listen for logs: %w", err)
	}
	defer ln.Close()

	// this node's service proxy, and the Services pods get environment variables for
	factory := informers.NewSharedInformerFactory(client, 0)
	px := proxy.New(client, factory, log, proxy.Options{NodeIP: nodeIP, NodeName: name})
	services := serviceLister(factory)
	pctx, stopProxy := context.WithCancel(ctx)
	factory.Start(pctx.Done())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := px.Run(pctx); err != nil && pctx.Err() == nil {
			log.Error("service proxy stopped", "err", err)
		}
	}()
	defer func() { stopProxy(); wg.Wait(); factory.Shutdown() }()

	return runNodeAgent(ctx, client, log, nodeAgentConfig{
		name: name, ip: nodeIP, dataDir: dataDir, imagesDir: imagesDir, maxPods: o.maxPods,
		logs: ln, token: token, leaseDuration: o.leaseDur,
		beforeStop: px.WaitUntilNotServing, services: services, metrics: px.Collectors(),
	}, func(*agent.Agent) {})
}

// nodeAgentConfig is what runNodeAgent needs to run a process-runtime agent.
type nodeAgentConfig struct {
	name      string
	ip        net.IP
	dataDir   string
	imagesDir string
	maxPods   int
	logs      net.Listener // nil: no HTTPS log endpoint (the embedded agent is called in-process)
	token     string       // what the log endpoint accepts
	labels    map[string]string
	// leaseDuration of the node's Lease (0: 40s); it is renewed every quarter of it.
	leaseDuration time.Duration
	// beforeStop and services connect the agent to its node's service proxy (both may be nil).
	beforeStop func(ctx context.Context, podIP net.IP) error
	services   func() []*corev1.Service
	// metrics are served on the HTTPS endpoint's /metrics after the agent's own (the proxy's).
	metrics []prometheus.Collector
}

// runNodeAgent runs an agent with the process runtime until ctx ends: it locks the data
// directory, kills what a crashed predecessor's containers left behind, and stops every
// container before it returns. ready is called with the agent before it runs.
func runNodeAgent(ctx context.Context, client kubernetes.Interface, log *slog.Logger, c nodeAgentConfig, ready func(*agent.Agent)) error {
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return fmt.Errorf("cli: create agent data dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(c.dataDir, "agent.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("cli: lock agent data dir: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("cli: agent data dir %s is in use by another agent: %w", c.dataDir, err)
	}
	stateDir := filepath.Join(c.dataDir, "containers")
	if n, err := process.ReapLeftovers(stateDir); err != nil {
		log.Warn("reaping leftover processes", "err", err)
	} else if n > 0 {
		log.Info("killed processes left by an earlier agent", "count", n)
	}
	rt, err := process.New(stateDir, log)
	if err != nil {
		return err
	}
	defer rt.Close()
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cli: find skiff's own executable for built-in images: %w", err)
	}
	opts := agent.Options{
		NodeName: c.name, NodeIP: c.ip, DataDir: c.dataDir, MaxPods: c.maxPods, Labels: c.labels,
		Images: &images.Store{Root: c.imagesDir, Self: self}, Runtime: rt,
		LeaseDuration: c.leaseDuration, RenewInterval: c.leaseDuration / 4,
		BeforeStop: c.beforeStop, Services: c.services,
	}
	var certHash string
	if c.logs != nil {
		cert, hash, err := agent.LoadOrCreateServingCert(filepath.Join(c.dataDir, "agent.crt"), filepath.Join(c.dataDir, "agent.key"), c.ip, time.Now())
		if err != nil {
			return err
		}
		certHash = hash
		opts.ServingCertHash = hash
		opts.Port = c.logs.Addr().(*net.TCPAddr).Port
		a, err := agent.New(client, log, opts)
		if err != nil {
			return err
		}
		ready(a)
		var wg sync.WaitGroup
		defer wg.Wait()
		lctx, cancel := context.WithCancel(ctx)
		defer cancel()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.ServeLogs(lctx, c.logs, cert, c.token, log, c.metrics...); err != nil {
				log.Error("log endpoint stopped", "err", err)
			}
		}()
		log.Info("serving container logs", "addr", c.logs.Addr().String(), "cert_sha256", certHash)
		return a.Run(ctx)
	}
	a, err := agent.New(client, log, opts)
	if err != nil {
		return err
	}
	ready(a)
	return a.Run(ctx)
}

func runFakeNode(ctx context.Context, client kubernetes.Interface, name string, ip net.IP, log *slog.Logger) error {
	addr, ok := netip.AddrFromSlice(ip.To4())
	if !ok {
		return fmt.Errorf("cli: node IP %s is not IPv4", ip)
	}
	return fake.New(client, log, fake.Options{Name: name, IP: addr}).Run(ctx)
}

// nodeOptions are `skiff server`'s flags for the node controllers (pod ranges, node lifecycle)
// and its embedded process agent. The runtime, node name and node IP are the server's
// --runtime, --node-name and --node-ip.
type nodeOptions struct {
	clusterCIDR            string
	nodeCIDRMaskSize       int
	nodeMonitorGracePeriod time.Duration
	podEvictionTimeout     time.Duration
	maxPods                int
}

func newNodeOptions() nodeOptions {
	return nodeOptions{clusterCIDR: "127.64.0.0/10", nodeCIDRMaskSize: 16,
		nodeMonitorGracePeriod: 40 * time.Second, podEvictionTimeout: 300 * time.Second, maxPods: 110}
}

func (o *nodeOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.clusterCIDR, "cluster-cidr", o.clusterCIDR, "IP range (in 127.0.0.0/8) pod IPs come from; every node gets a block of it")
	fs.IntVar(&o.nodeCIDRMaskSize, "node-cidr-mask-size", o.nodeCIDRMaskSize, "Prefix length of each node's block of --cluster-cidr")
	fs.DurationVar(&o.nodeMonitorGracePeriod, "node-monitor-grace-period", o.nodeMonitorGracePeriod, "How long a node may go without renewing its lease before it is marked NotReady (Unknown)")
	fs.DurationVar(&o.podEvictionTimeout, "default-unreachable-toleration", o.podEvictionTimeout, "How long pods stay on an unreachable or not-ready node before they are evicted, unless they tolerate it for another time")
	fs.IntVar(&o.maxPods, "max-pods", o.maxPods, "Number of pods the embedded node can run")
}

// nodeControllers returns the run functions of the node IPAM and node lifecycle controllers and
// gives the log proxy its client (for agents that joined with `skiff agent`).
func nodeControllers(client kubernetes.Interface, o nodeOptions, logs *agent.LogProxy, log *slog.Logger) (ipam, lifecycle func(context.Context) error, err error) {
	_, cidr, err := net.ParseCIDR(o.clusterCIDR)
	if err != nil {
		return nil, nil, fmt.Errorf("cli: --cluster-cidr: %w", err)
	}
	ic, err := nodeipam.New(client, log, nodeipam.Options{ClusterCIDR: cidr, NodeMaskSize: o.nodeCIDRMaskSize})
	if err != nil {
		return nil, nil, fmt.Errorf("cli: %w", err)
	}
	lc := nodelifecycle.New(client, log, nodelifecycle.Options{
		GracePeriod: o.nodeMonitorGracePeriod, DefaultToleration: o.podEvictionTimeout})
	logs.SetClient(client)
	return ic.Run, lc.Run, nil
}

// runEmbeddedAgent runs the server's own node agent (--runtime process) until ctx ends, keeping
// its pods under dataDir/agent and its images in dataDir/images (where `skiff image` puts them
// by default). Logs of its pods are served in-process through logs. It returns once every
// container has stopped.
func runEmbeddedAgent(ctx context.Context, client kubernetes.Interface, name string, ip net.IP, dataDir string, o nodeOptions, logs *agent.LogProxy, px *proxy.Proxy, services func() []*corev1.Service, registerMetrics func(...prometheus.Collector) error, log *slog.Logger) error {
	return runNodeAgent(ctx, client, log, nodeAgentConfig{
		name: name, ip: ip, dataDir: filepath.Join(dataDir, "agent"), imagesDir: filepath.Join(dataDir, "images"),
		maxPods: o.maxPods, labels: map[string]string{"node-role.kubernetes.io/control-plane": ""},
		beforeStop: px.WaitUntilNotServing, services: services,
	}, func(a *agent.Agent) {
		logs.AddLocal(a)
		if err := registerMetrics(a.Collectors()...); err != nil {
			log.Error("serving the node's metrics", "err", err)
		}
	})
}

// serviceLister returns a function listing every Service factory's informer holds. Call it
// before the factory starts so the informer is registered.
func serviceLister(factory informers.SharedInformerFactory) func() []*corev1.Service {
	l := factory.Core().V1().Services().Lister()
	return func() []*corev1.Service {
		svcs, _ := l.List(labels.Everything())
		return svcs
	}
}
