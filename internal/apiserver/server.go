package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/util/managedfields"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/skiff-dev/skiff/internal/apiserver/openapi"
	"github.com/skiff-dev/skiff/internal/registry"
	"github.com/skiff-dev/skiff/internal/storage"
)

// Config configures a Server. Store is required; the rest have defaults.
type Config struct {
	Store storage.Store
	// Resources served; nil means registry.All().
	Resources []*registry.Resource
	// Authenticate maps a bearer token to a user name. Requests without a token it accepts get 401.
	Authenticate func(token string) (user string, ok bool)
	// AdvertiseAddress and AdvertisePort are where clients reach this server; they become the
	// endpoints of the "kubernetes" Service in "default".
	AdvertiseAddress net.IP
	AdvertisePort    int
	// ServiceCIDR is the range ClusterIPs are allocated from (default 127.2.0.0/16); its first
	// address is the "kubernetes" Service's ClusterIP.
	ServiceCIDR *net.IPNet
	// NodePortRange is the inclusive range NodePorts are allocated from (default 30000-32767).
	NodePortMin, NodePortMax int
	// Version is what /version reports (default: the Kubernetes version skiff's API types come
	// from). kubectl dispatchers pick a client by its minor version.
	Version string
	// PodLogs, when set, serves pods/log for a pod (the node agents' log endpoint).
	PodLogs func(w http.ResponseWriter, r *http.Request, pod *corev1.Pod) error
	// NodeUsage, when set, reads a node's and its pods' resource usage from the node's agent,
	// for the metrics.k8s.io kinds.
	NodeUsage func(ctx context.Context, node *corev1.Node) (*metricsv1beta1.NodeMetrics, []metricsv1beta1.PodMetrics, error)
	// PodStream, when set, serves pods/exec, pods/attach and pods/portforward (subresource is
	// one of those) for a pod: the upgrade requests kubectl exec, attach, cp and port-forward
	// make, proxied to the pod's node agent.
	PodStream func(w http.ResponseWriter, r *http.Request, pod *corev1.Pod, subresource string) error
	Log       *slog.Logger
}

// Server is the API server. Create it with New, then Start it, then serve Handler.
type Server struct {
	cfg      Config
	log      *slog.Logger
	scheme   *runtime.Scheme
	codecs   serializer.CodecFactory
	proto    runtime.Serializer // storage encoding
	params   runtime.ParameterCodec
	version  version.Info
	caches   *cacheSet
	served   map[gvr]*served // every group/version/resource served
	roles    roles           // the served resources admission looks for by what they do
	groups   []apiGroup      // discovery order
	handler  http.Handler
	openapi  http.Handler
	metrics  *serverMetrics
	loopback string // token of in-process clients

	lastWrite atomic.Int64 // highest revision this server wrote; reads wait for the cache to reach it
	started   atomic.Bool

	// nameSuffix makes the random part of a name generated from generateName.
	nameSuffix func() string

	allocMu  sync.Mutex // serializes ClusterIP and NodePort allocation
	quotaMu  sync.Mutex // serializes quota admission with the create it admits
	keyLocks keyLocks   // serializes the server's read-modify-writes of one key
}

type gvr struct{ group, version, resource string }

// served is one resource at one group-version.
type served struct {
	res   *registry.Resource
	cache *resourceCache
	gv    schema.GroupVersion
	alt   *registry.AltVersion // nil at the storage version
	// fields record managed fields and merge server-side apply patches at this version.
	fields fieldManagers
}

// apiGroup is one group in discovery order with its versions, preferred first.
type apiGroup struct {
	name     string
	versions []string
}

// New checks cfg and builds a Server; it does no I/O.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("apiserver: Config.Store is required")
	}
	if cfg.Resources == nil {
		cfg.Resources = registry.All()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.ServiceCIDR == nil {
		_, cfg.ServiceCIDR, _ = net.ParseCIDR("127.2.0.0/16")
	}
	if cfg.NodePortMin == 0 {
		cfg.NodePortMin, cfg.NodePortMax = 30000, 32767
	}
	if cfg.AdvertiseAddress == nil {
		cfg.AdvertiseAddress = net.IPv4(127, 0, 0, 1)
	}
	storeMetrics := newStoreMetrics()
	cfg.Store = instrumentedStore{Store: cfg.Store, m: storeMetrics}
	s := &Server{cfg: cfg, log: cfg.Log.With("component", "apiserver"), served: map[gvr]*served{},
		nameSuffix: func() string { return utilrand.String(5) }}
	s.scheme, s.codecs = newScheme()
	s.proto = protobuf.NewSerializer(s.scheme, s.scheme)
	s.params = runtime.NewParameterCodec(s.scheme)
	s.version = serverVersion(cfg.Version)
	s.caches = &cacheSet{store: cfg.Store, byGR: map[string]*resourceCache{}, decode: s.decodeStored}
	groupIndex := map[string]int{}
	addVersion := func(group, v string) {
		i, ok := groupIndex[group]
		if !ok {
			i = len(s.groups)
			groupIndex[group] = i
			s.groups = append(s.groups, apiGroup{name: group})
		}
		for _, have := range s.groups[i].versions {
			if have == v {
				return
			}
		}
		s.groups[i].versions = append(s.groups[i].versions, v)
	}
	for _, res := range cfg.Resources {
		c := newResourceCache(res)
		s.caches.byGR[c.gr.String()] = c
		gv := res.GVR.GroupVersion()
		s.served[gvr{gv.Group, gv.Version, res.GVR.Resource}] = &served{res: res, cache: c, gv: gv}
		addVersion(gv.Group, gv.Version)
	}
	for _, res := range cfg.Resources {
		for i := range res.Versions {
			alt := &res.Versions[i]
			c := s.caches.byGR[res.GVR.GroupResource().String()]
			s.served[gvr{alt.GroupVersion.Group, alt.GroupVersion.Version, res.GVR.Resource}] = &served{res: res, cache: c, gv: alt.GroupVersion, alt: alt}
			addVersion(alt.GroupVersion.Group, alt.GroupVersion.Version)
		}
	}
	s.roles = findRoles(s.served)
	oa, err := openapi.New(cfg.Resources, s.version.GitVersion)
	if err != nil {
		return nil, fmt.Errorf("apiserver: build openapi: %w", err)
	}
	s.openapi = oa
	models, err := oa.Models()
	if err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	tc, err := managedfields.NewTypeConverter(models, false)
	if err != nil {
		return nil, fmt.Errorf("apiserver: type converter: %w", err)
	}
	for _, sv := range s.served {
		if sv.fields, err = newFieldManagers(tc, sv); err != nil {
			return nil, err
		}
	}
	s.loopback = randomToken()
	s.metrics = newServerMetrics(s, storeMetrics)
	s.handler = s.buildHandler()
	return s, nil
}

// serverVersion builds /version's answer. v is "v1.33.0"-style or empty for the version of the
// k8s.io/api module skiff is built with.
func serverVersion(v string) version.Info {
	if v == "" {
		v = "v1.37.0"
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, d := range bi.Deps {
				if d.Path == "k8s.io/api" && strings.HasPrefix(d.Version, "v0.") {
					v = "v1." + strings.TrimPrefix(d.Version, "v0.")
				}
			}
		}
	}
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	major, minor := "1", "0"
	if len(parts) >= 2 {
		major, minor = parts[0], parts[1]
	}
	return version.Info{
		Major: major, Minor: minor, GitVersion: v, GitCommit: "skiff", GitTreeState: "clean",
		BuildDate: "1970-01-01T00:00:00Z", GoVersion: goVersion(), Compiler: "gc", Platform: platform(),
	}
}

// Start loads the watch cache from storage, creates the built-in objects (namespaces default and
// kube-system, the kubernetes Service) and returns once the server is ready to answer requests.
// Background work stops when ctx is done.
func (s *Server) Start(ctx context.Context) error {
	rev, err := s.caches.load(ctx)
	if err != nil {
		return err
	}
	s.lastWrite.Store(rev)
	ch, err := s.caches.watchFrom(ctx, rev)
	if err != nil {
		return fmt.Errorf("apiserver: watch storage: %w", err)
	}
	go s.caches.run(ctx, ch, rev, s.log)
	if err := s.bootstrap(ctx); err != nil {
		return fmt.Errorf("apiserver: bootstrap: %w", err)
	}
	s.started.Store(true)
	return nil
}

// Handler returns the authenticated HTTP handler for the whole API.
func (s *Server) Handler() http.Handler { return s.handler }

// Resources returns the served resources.
func (s *Server) Resources() []*registry.Resource { return s.cfg.Resources }

// VersionInfo returns what /version reports.
func (s *Server) VersionInfo() version.Info { return s.version }

// LoopbackConfig returns a client config for in-process clients (controllers, scheduler, the
// embedded agent): requests go straight to the handler, with no TLS or TCP, as a privileged user.
func (s *Server) LoopbackConfig() *rest.Config {
	return &rest.Config{
		Host:        "http://skiff.loopback",
		BearerToken: s.loopback,
		Transport:   &inProcessTransport{handler: s.handler},
		QPS:         -1,
		Burst:       -1,
		ContentConfig: rest.ContentConfig{
			AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json",
			ContentType:        "application/vnd.kubernetes.protobuf",
		},
	}
}

// decodeStored decodes a stored object and stamps its storage GVK.
func (s *Server) decodeStored(data []byte, gvk schema.GroupVersionKind) (runtime.Object, error) {
	obj, _, err := s.proto.Decode(data, &gvk, nil)
	if err != nil {
		return nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}

// encodeStored encodes obj (at its storage version) for storage, without its resourceVersion.
func (s *Server) encodeStored(obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	defer m.SetResourceVersion(rv)
	return runtime.Encode(s.proto, obj)
}

func timeAfter(seconds int) <-chan time.Time { return time.After(time.Duration(seconds) * time.Second) }

// rvOf is the revision of a stored object, whose resourceVersion the server itself set (0 for
// one without).
func rvOf(obj runtime.Object) int64 {
	m, err := meta.Accessor(obj)
	if err != nil {
		return 0
	}
	rv, _ := parseResourceVersion(m.GetResourceVersion())
	return rv
}

// parseResourceVersion parses a resourceVersion as kube-apiserver's versioner does: "" is 0, and
// anything but a non-negative decimal integer is an error.
func parseResourceVersion(rv string) (int64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(rv, 10, 63)
	if err != nil {
		return 0, err
	}
	return int64(n), nil
}

// invalidResourceVersion answers an object whose metadata.resourceVersion does not parse: a 400
// naming the field (upstream answers 500 with the same words, a bug it means to fix).
func invalidResourceVersion(rv string, err error) error {
	return apierrors.NewBadRequest(field.Invalid(field.NewPath("metadata", "resourceVersion"), rv, err.Error()).Error())
}
