package apiserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/internal/kubestate"
	"github.com/skiff-dev/skiff/internal/metrics"
	"github.com/skiff-dev/skiff/internal/storage"
)

// The API server's /metrics: its request and storage series under kube-apiserver's names and
// labels (k8s.io/apiserver/pkg/endpoints/metrics, pkg/storage/etcd3/metrics), the object counts
// and kube-state-metrics' Deployment and ReplicaSet series computed from the watch cache at
// scrape time, and what every skiff process serves (client-go, Go runtime, process).

// latencyBuckets are kube-apiserver's request and storage latency buckets.
var latencyBuckets = []float64{0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60}

// serverMetrics are one server's collectors and the handler that serves them.
type serverMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	registry *prometheus.Registry
	handler  http.Handler
	// series caches each label combination's counter and histogram, so that a request looks
	// one key up instead of hashing and validating nine label values twice.
	series sync.Map // requestLabels -> requestSeries
}

// requestLabels are one request series' labels (component is always "apiserver").
type requestLabels struct {
	verb, dryRun, group, version, resource, subresource, scope string
	code                                                       int
}

type requestSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

func (m *serverMetrics) seriesFor(l requestLabels) requestSeries {
	if s, ok := m.series.Load(l); ok {
		return s.(requestSeries)
	}
	s := requestSeries{
		count:   m.requests.WithLabelValues(l.verb, l.dryRun, l.group, l.version, l.resource, l.subresource, l.scope, "apiserver", codeString(l.code)),
		latency: m.latency.WithLabelValues(l.verb, l.dryRun, l.group, l.version, l.resource, l.subresource, l.scope, "apiserver"),
	}
	m.series.Store(l, s)
	return s
}

func newServerMetrics(s *Server, store *storeMetrics) *serverMetrics {
	m := &serverMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_request_total",
			Help: "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
		}, []string{"verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "apiserver_request_duration_seconds",
			Help:    "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
			Buckets: latencyBuckets,
		}, []string{"verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component"}),
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.requests, m.latency, store.latency, store.requests, store.errors,
		objectCounts{s}, kubestate.New(s.listCached))
	reg.MustRegister(metrics.Collectors()...)
	m.registry = reg
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

// RegisterMetrics adds collectors to what /metrics serves: the series of components running
// in the server's process (the embedded node's agent and service proxy).
func (s *Server) RegisterMetrics(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := s.metrics.registry.Register(c); err != nil {
			return fmt.Errorf("apiserver: register metrics: %w", err)
		}
	}
	return nil
}

// listCached lists every cached object of gr (for collectors).
func (s *Server) listCached(gr schema.GroupResource) []runtime.Object {
	c := s.caches.byGR[gr.String()]
	if c == nil {
		return nil
	}
	return c.list("", nil)
}

// instrument serves a resource request through next, counting it and timing it as
// kube-apiserver's request metrics do.
func (m *serverMetrics) instrument(w http.ResponseWriter, r *http.Request, info *requestInfo, next func(http.ResponseWriter)) {
	start := time.Now()
	rec := &recordingWriter{ResponseWriter: w}
	var rw http.ResponseWriter = rec
	if _, ok := w.(http.Hijacker); ok {
		rw = hijackingWriter{rec}
	}
	next(rw)
	code := rec.code
	if code == 0 {
		code = http.StatusOK
	}
	s := m.seriesFor(requestLabels{verb: reportedVerb(info, r), dryRun: dryRunLabel(r), group: info.Group, version: info.Version,
		resource: info.Resource, subresource: info.Subresource, scope: requestScope(info), code: code})
	s.count.Inc()
	s.latency.Observe(time.Since(start).Seconds())
}

// connectSubresources are the subresources upstream serves as CONNECT.
var connectSubresources = []string{"proxy", "exec", "attach", "portforward"}

// reportedVerb is the verb label as kube-apiserver reports it: the route's verb in upper case
// (GET of one object, LIST of many, POST, PUT, DELETE, DELETECOLLECTION), WATCH for watches,
// APPLY for server-side apply patches and CONNECT for the connect subresources.
func reportedVerb(info *requestInfo, r *http.Request) string {
	if info.Subresource != "" && slices.Contains(connectSubresources, info.Subresource) {
		return "CONNECT"
	}
	switch info.Verb {
	case "get":
		return "GET"
	case "list":
		return "LIST"
	case "watch":
		return "WATCH"
	case "create":
		return "POST"
	case "update":
		return "PUT"
	case "patch":
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/apply-patch+yaml") {
			return "APPLY"
		}
		return "PATCH"
	case "delete":
		return "DELETE"
	case "deletecollection":
		return "DELETECOLLECTION"
	}
	return strings.ToUpper(info.Verb)
}

// requestScope is upstream's scope label: "resource" for one named object (and creates),
// "namespace" for a namespace's collection, "cluster" for the whole cluster.
func requestScope(info *requestInfo) string {
	switch {
	case info.Name != "" || info.Verb == "create":
		return "resource"
	case info.Namespace != "":
		return "namespace"
	}
	return "cluster"
}

// dryRunLabel is the request's dryRun values, sorted and comma-joined ("" for none).
func dryRunLabel(r *http.Request) string {
	if r.URL.RawQuery == "" || !strings.Contains(r.URL.RawQuery, "dryRun") {
		return ""
	}
	v := r.URL.Query()["dryRun"]
	if len(v) == 0 {
		return ""
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return strings.Join(slices.Compact(v), ",")
}

func codeString(code int) string {
	switch code {
	case http.StatusOK:
		return "200"
	case http.StatusCreated:
		return "201"
	case http.StatusNotFound:
		return "404"
	case http.StatusConflict:
		return "409"
	}
	return strconv.Itoa(code)
}

// recordingWriter remembers the status code written through it.
type recordingWriter struct {
	http.ResponseWriter
	code int
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush flushes the underlying writer if it can (watch streams).
func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// hijackingWriter is a recordingWriter over a writer that can be hijacked (upgrades); a
// hijacked request counts as 101 Switching Protocols, as upstream counts it.
type hijackingWriter struct{ *recordingWriter }

func (w hijackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.code == 0 {
		w.code = http.StatusSwitchingProtocols
	}
	return w.ResponseWriter.(http.Hijacker).Hijack()
}

// objectCounts reports the number of objects of each stored resource at scrape time, from
// the watch cache: apiserver_storage_objects (deprecated upstream since 1.34 but what most
// dashboards read) and its successor apiserver_resource_objects.
type objectCounts struct{ s *Server }

var (
	storageObjectsDesc = prometheus.NewDesc("apiserver_storage_objects",
		"[DEPRECATED, consider using apiserver_resource_objects instead] Number of stored objects at the time of last check split by kind. In case of a fetching error, the value will be -1.",
		[]string{"resource"}, nil)
	resourceObjectsDesc = prometheus.NewDesc("apiserver_resource_objects",
		"Number of stored objects at the time of last check split by kind. In case of a fetching error, the value will be -1.",
		[]string{"group", "resource"}, nil)
)

func (o objectCounts) Describe(ch chan<- *prometheus.Desc) {
	ch <- storageObjectsDesc
	ch <- resourceObjectsDesc
}

func (o objectCounts) Collect(ch chan<- prometheus.Metric) {
	for _, c := range o.s.caches.byGR {
		if !c.res.Stored() {
			continue
		}
		c.mu.RLock()
		n := float64(len(c.objs))
		c.mu.RUnlock()
		ch <- prometheus.MustNewConstMetric(storageObjectsDesc, prometheus.GaugeValue, n, c.gr.String())
		ch <- prometheus.MustNewConstMetric(resourceObjectsDesc, prometheus.GaugeValue, n, c.gr.Group, c.gr.Resource)
	}
}

// storeMetrics are the storage request series, under kube-apiserver's etcd names (the
// backend here is bbolt, but dashboards read these names).
type storeMetrics struct {
	latency          *prometheus.HistogramVec
	requests, errors *prometheus.CounterVec
}

func newStoreMetrics() *storeMetrics {
	labels := []string{"operation", "group", "resource"}
	return &storeMetrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "etcd_request_duration_seconds",
			Help:    "Etcd request latency in seconds for each operation and object type.",
			Buckets: latencyBuckets,
		}, labels),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "etcd_requests_total",
			Help: "Etcd request counts for each operation and object type.",
		}, labels),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "etcd_request_errors_total",
			Help: "Etcd failed request counts for each operation and object type.",
		}, labels),
	}
}

func (m *storeMetrics) record(op, key string, start time.Time, err error) {
	group, resource := keyResource(key)
	m.latency.WithLabelValues(op, group, resource).Observe(time.Since(start).Seconds())
	m.requests.WithLabelValues(op, group, resource).Inc()
	// Conflicts, existing keys and missing keys are answers, not failures of the store.
	if err != nil && !errors.Is(err, storage.ErrConflict) && !errors.Is(err, storage.ErrExists) && !errors.Is(err, storage.ErrNotFound) {
		m.errors.WithLabelValues(op, group, resource).Inc()
	}
}

// keyResource is the group and resource of a storage key "/registry/<resource>[.<group>]/...".
func keyResource(key string) (group, resource string) {
	rest, ok := strings.CutPrefix(key, "/registry/")
	if !ok {
		return "", ""
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	resource, group, _ = strings.Cut(rest, ".")
	return group, resource
}

// instrumentedStore times every request to the store it wraps.
type instrumentedStore struct {
	storage.Store
	m *storeMetrics
}

var _ storage.Store = instrumentedStore{}

func (s instrumentedStore) Get(ctx context.Context, key string) (storage.KeyValue, error) {
	start := time.Now()
	kv, err := s.Store.Get(ctx, key)
	s.m.record("get", key, start, err)
	return kv, err
}

func (s instrumentedStore) List(ctx context.Context, prefix string) ([]storage.KeyValue, int64, error) {
	start := time.Now()
	kvs, rev, err := s.Store.List(ctx, prefix)
	s.m.record("list", prefix, start, err)
	return kvs, rev, err
}

func (s instrumentedStore) Create(ctx context.Context, key string, value []byte) (int64, error) {
	start := time.Now()
	rev, err := s.Store.Create(ctx, key, value)
	s.m.record("create", key, start, err)
	return rev, err
}

func (s instrumentedStore) Update(ctx context.Context, key string, value []byte, expectedRev int64) (int64, error) {
	start := time.Now()
	rev, err := s.Store.Update(ctx, key, value, expectedRev)
	s.m.record("update", key, start, err)
	return rev, err
}

func (s instrumentedStore) Delete(ctx context.Context, key string, expectedRev int64) (storage.KeyValue, int64, error) {
	start := time.Now()
	prev, rev, err := s.Store.Delete(ctx, key, expectedRev)
	s.m.record("delete", key, start, err)
	return prev, rev, err
}
