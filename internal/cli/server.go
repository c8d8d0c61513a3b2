package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/internal/agent"
	"github.com/skiff-dev/skiff/internal/apiserver"
	"github.com/skiff-dev/skiff/internal/storage/bolt"
)

// serverOptions are the flags of `skiff server`, as typed.
type serverOptions struct {
	dataDir string

	bind             string
	port             int
	advertiseAddress string
	nodeIP           string
	serviceCIDR      string

	logLevel  string
	logFormat string

	components componentOptions
	nodes      nodeOptions
}

// serverConfig is what the flags resolve to: validated, with defaults filled in.
type serverConfig struct {
	dataDir     string     // absolute
	bind        net.IP     // may be unspecified (0.0.0.0 or ::): listen on every address
	port        int        // 0: any free port
	advertise   net.IP     // where clients and the "kubernetes" Service reach this server
	nodeIP      net.IP     // nil unless --node-ip was given; reserved for the embedded agent
	serviceCIDR *net.IPNet // ClusterIPs are allocated from here
	components  componentConfig
}

func newServerOptions() *serverOptions {
	return &serverOptions{
		bind:        "127.0.0.1",
		port:        6443,
		serviceCIDR: "127.2.0.0/16",
		logLevel:    "info",
		logFormat:   "text",
		components:  componentOptions{runtime: "process"},
		nodes:       newNodeOptions(),
	}
}

// NewServerCommand returns `skiff server`: the API server with its embedded store and
// controllers, serving HTTPS until SIGINT or SIGTERM.
func NewServerCommand() *cobra.Command {
	o := newServerOptions()
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the API server, its embedded store and the controllers",
		Long: `Run the API server, its embedded store and the controllers.

On first start the server creates a CA, a serving certificate, an admin token, an agent join
token and an admin kubeconfig in its data directory; later starts reuse them. When it is ready
it prints one line to stdout naming the kubeconfig; logs go to stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), o.logLevel, o.logFormat)
			if err != nil {
				return err
			}
			cfg, err := o.complete(utilnet.ChooseHostInterface)
			if err != nil {
				return err
			}
			// client-go and apimachinery log through klog; send that to the same place.
			klog.SetSlogLogger(log)

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// After the first signal a second one kills the process, as without a handler.
			context.AfterFunc(ctx, stop)
			return runServer(ctx, cfg, cmd.OutOrStdout(), log)
		},
	}

	var fss cliflag.NamedFlagSets
	o.addFlags(&fss)
	for _, name := range fss.Order {
		cmd.Flags().AddFlagSet(fss.FlagSets[name])
	}
	cliflag.SetUsageAndHelpFunc(cmd, fss, 0)
	return cmd
}

func (o *serverOptions) addFlags(fss *cliflag.NamedFlagSets) {
	fs := fss.FlagSet("storage")
	fs.StringVar(&o.dataDir, "data-dir", o.dataDir,
		"Directory for the state file, certificates, tokens and kubeconfig (default /var/lib/skiff as root, else $XDG_DATA_HOME/skiff or ~/.local/share/skiff)")

	fs = fss.FlagSet("networking")
	fs.StringVar(&o.bind, "bind", o.bind, "IP address to serve HTTPS on (0.0.0.0 or :: for every address)")
	fs.IntVar(&o.port, "port", o.port, "Port to serve HTTPS on; 0 picks a free one")
	fs.StringVar(&o.advertiseAddress, "advertise-address", o.advertiseAddress,
		"IP address clients and the kubernetes Service reach this server at (default: --bind, or this host's address when --bind is unspecified)")
	fs.StringVar(&o.nodeIP, "node-ip", o.nodeIP, "IP address of the embedded node, in 127.0.0.0/8 (default 127.0.0.1)")
	fs.StringVar(&o.serviceCIDR, "service-cidr", o.serviceCIDR, "IP range ClusterIPs are allocated from; its first address is the kubernetes Service's")

	fs = fss.FlagSet("components")
	o.components.addFlags(fs)
	o.nodes.addFlags(fs)

	fs = fss.FlagSet("logging")
	fs.StringVar(&o.logLevel, "log-level", o.logLevel, "Least severe log level written to stderr: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", o.logFormat, "Log format: text or json")
}

// complete validates the options and fills in defaults. hostIP chooses this host's address when
// neither --advertise-address nor a specific --bind says where clients reach the server.
func (o *serverOptions) complete(hostIP func() (net.IP, error)) (serverConfig, error) {
	var cfg serverConfig

	dir := o.dataDir
	if dir == "" {
		var err error
		if dir, err = DefaultDataDir(); err != nil {
			return cfg, err
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return cfg, fmt.Errorf("cli: resolve --data-dir: %w", err)
	}
	cfg.dataDir = dir

	if cfg.bind = net.ParseIP(o.bind); cfg.bind == nil {
		return cfg, fmt.Errorf("cli: --bind %q is not an IP address", o.bind)
	}
	if o.port < 0 || o.port > 65535 {
		return cfg, fmt.Errorf("cli: --port %d is out of range 0-65535", o.port)
	}
	cfg.port = o.port

	if o.nodeIP != "" {
		if cfg.nodeIP = net.ParseIP(o.nodeIP); cfg.nodeIP == nil {
			return cfg, fmt.Errorf("cli: --node-ip %q is not an IP address", o.nodeIP)
		}
	}

	switch {
	case o.advertiseAddress != "":
		cfg.advertise = net.ParseIP(o.advertiseAddress)
		if cfg.advertise == nil || cfg.advertise.IsUnspecified() {
			return cfg, fmt.Errorf("cli: --advertise-address %q is not a specific IP address", o.advertiseAddress)
		}
	case !cfg.bind.IsUnspecified():
		cfg.advertise = cfg.bind
	default:
		if ip, err := hostIP(); err == nil && ip != nil {
			cfg.advertise = ip
		} else {
			cfg.advertise = net.IPv4(127, 0, 0, 1)
		}
	}

	_, cfg.serviceCIDR, err = net.ParseCIDR(o.serviceCIDR)
	if err != nil {
		return cfg, fmt.Errorf("cli: --service-cidr: %w", err)
	}

	if err := o.components.validate(); err != nil {
		return cfg, err
	}
	cfg.components = componentConfig{componentOptions: o.components, nodeIP: cfg.nodeIP, nodes: o.nodes, dataDir: cfg.dataDir}
	if cfg.components.nodeIP == nil {
		cfg.components.nodeIP = net.IPv4(127, 0, 0, 1)
	}
	if cfg.components.nodeName == "" {
		host, err := os.Hostname()
		if err != nil {
			return cfg, fmt.Errorf("cli: node name: %w", err)
		}
		cfg.components.nodeName = strings.ToLower(host)
	}
	return cfg, nil
}

// clientHost is the address local clients (the kubeconfig, the ready line) use: the bind address,
// or loopback when the server listens on every address.
func (c serverConfig) clientHost() string {
	if c.bind.IsUnspecified() {
		return "127.0.0.1"
	}
	return c.bind.String()
}

// serverURL is the https URL local clients reach the server at on port.
func (c serverConfig) serverURL(port int) string {
	u := url.URL{Scheme: "https", Host: net.JoinHostPort(c.clientHost(), strconv.Itoa(port))}
	return u.String()
}

func (c serverConfig) path(name string) string { return filepath.Join(c.dataDir, name) }

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("cli: --log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("cli: --log-format %q: want text or json", format)
	}
}

// runServer runs the server until ctx is done, then shuts it down and returns nil. The only thing
// it writes to stdout is the ready line.
func runServer(ctx context.Context, cfg serverConfig, stdout io.Writer, log *slog.Logger) (err error) {
	start := time.Now()
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return fmt.Errorf("cli: create data directory: %w", err)
	}

	// The store's file lock also guards the rest of the data directory: a second server on the
	// same directory stops here, before it rewrites the kubeconfig of the first.
	store, err := bolt.Open(cfg.path(stateFile), bolt.Options{Log: log})
	if err != nil {
		return fmt.Errorf("cli: open store: %w", err)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil {
			log.Error("closing store", "err", cerr)
			if err == nil {
				err = fmt.Errorf("cli: close store: %w", cerr)
			}
		}
	}()

	hostname, _ := os.Hostname()
	creds, err := ensureCredentials(cfg, servingHosts(cfg, hostname), start, log)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.bind.String(), strconv.Itoa(cfg.port)))
	if err != nil {
		return fmt.Errorf("cli: listen: %w", err)
	}
	defer ln.Close() // after a failed start; Serve closes it otherwise
	port := ln.Addr().(*net.TCPAddr).Port
	serverURL := cfg.serverURL(port)

	// Background work (watch cache, controllers) runs until shutdown has drained HTTP, not
	// until the signal: in-flight requests still need it.
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()

	cfg.components.podLogs = agent.NewLogProxy(creds.agentToken)
	api, err := apiserver.New(apiserver.Config{
		Store:            store,
		Authenticate:     creds.authenticate,
		AdvertiseAddress: cfg.advertise,
		AdvertisePort:    port,
		ServiceCIDR:      cfg.serviceCIDR,
		PodLogs:          cfg.components.podLogs.ServePodLogs,
		NodeUsage:        cfg.components.podLogs.NodeUsage,
		PodStream:        cfg.components.podLogs.ServePodStream,
		Log:              log,
	})
	if err != nil {
		return fmt.Errorf("cli: create apiserver: %w", err)
	}
	if err := api.Start(bgCtx); err != nil {
		return fmt.Errorf("cli: start apiserver: %w", err)
	}
	cfg.components.resources, cfg.components.caPEM = api.Resources(), creds.caPEM
	cfg.components.registerMetrics = api.RegisterMetrics
	waitComponents, err := startControllers(bgCtx, api.LoopbackConfig(), cfg.components, log)
	if err != nil {
		return fmt.Errorf("cli: start controllers: %w", err)
	}

	// Written only now, so that a server that failed to start leaves the last good one.
	kubeconfig := cfg.path(kubeconfigFile)
	changed, err := writeKubeconfig(kubeconfig, serverURL, creds.caPEM, creds.adminToken)
	if err != nil {
		return err
	}
	if changed {
		log.Info("wrote kubeconfig", "path", kubeconfig, "server", serverURL)
	}

	handler, endLongRunning := endLongRunningOnShutdown(api.Handler())
	srv := newHTTPServer(handler, creds.serving, log)
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()

	log.Info("ready", "url", serverURL, "data_dir", cfg.dataDir, "advertise", cfg.advertise.String(), "startup", time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(stdout, "skiff is ready: %s — export KUBECONFIG=%s\n", serverURL, kubeconfig)

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("cli: serve https: %w", err)
	}

	log.Info("shutting down")
	endLongRunning()
	shutdownHTTP(srv, log)
	stopBackground()
	waitComponents()
	log.Info("stopped")
	return nil
}
