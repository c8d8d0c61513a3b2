package metrics

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	clientmetrics "k8s.io/client-go/tools/metrics"
	"k8s.io/client-go/util/workqueue"
)

// Upstream's rest client buckets (component-base/metrics/prometheus/restclient).
var restClientBuckets = []float64{0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0}

// Upstream's workqueue buckets (component-base/metrics/prometheus/workqueue): 10ns to 10s.
var workqueueBuckets = prometheus.ExponentialBuckets(10e-9, 10, 10)

// client holds the process-wide client-go collectors.
type client struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	depth, unfinished, longest *prometheus.GaugeVec
	adds, retries              *prometheus.CounterVec
	queueLatency, workDuration *prometheus.HistogramVec
}

var (
	installOnce sync.Once
	installed   *client
)

// Install points client-go's request metrics and its workqueue metrics provider at this
// package's collectors. Queues created before the first call report nothing (client-go reads
// the provider when a queue is made), so every process calls it before it builds clients and
// controllers. It is safe to call more than once.
func Install() {
	installOnce.Do(func() {
		c := &client{
			requests: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "rest_client_requests_total",
				Help: "Number of HTTP requests, partitioned by status code, method, and host.",
			}, []string{"code", "method", "host"}),
			latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Name:    "rest_client_request_duration_seconds",
				Help:    "Request latency in seconds. Broken down by verb, and host.",
				Buckets: restClientBuckets,
			}, []string{"verb", "host"}),
			depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
				Subsystem: "workqueue", Name: "depth", Help: "Current depth of workqueue",
			}, []string{"name"}),
			adds: prometheus.NewCounterVec(prometheus.CounterOpts{
				Subsystem: "workqueue", Name: "adds_total", Help: "Total number of adds handled by workqueue",
			}, []string{"name"}),
			queueLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Subsystem: "workqueue", Name: "queue_duration_seconds",
				Help:    "How long in seconds an item stays in workqueue before being requested.",
				Buckets: workqueueBuckets,
			}, []string{"name"}),
			workDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Subsystem: "workqueue", Name: "work_duration_seconds",
				Help:    "How long in seconds processing an item from workqueue takes.",
				Buckets: workqueueBuckets,
			}, []string{"name"}),
			unfinished: prometheus.NewGaugeVec(prometheus.GaugeOpts{
				Subsystem: "workqueue", Name: "unfinished_work_seconds",
				Help: "How many seconds of work has done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
			}, []string{"name"}),
			longest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
				Subsystem: "workqueue", Name: "longest_running_processor_seconds",
				Help: "How many seconds has the longest running processor for workqueue been running.",
			}, []string{"name"}),
			retries: prometheus.NewCounterVec(prometheus.CounterOpts{
				Subsystem: "workqueue", Name: "retries_total", Help: "Total number of retries handled by workqueue",
			}, []string{"name"}),
		}
		clientmetrics.Register(clientmetrics.RegisterOpts{
			RequestLatency: latencyMetric{c.latency},
			RequestResult:  resultMetric{c.requests},
		})
		workqueue.SetProvider(queueProvider{c})
		installed = c
	})
}

// Collectors returns the collectors every skiff process serves: client-go's (after Install),
// the Go runtime's and the process's. Each call returns new Go and process collectors, so that
// each registry can hold its own.
func Collectors() []prometheus.Collector {
	Install()
	c := installed
	return []prometheus.Collector{
		c.requests, c.latency,
		c.depth, c.adds, c.queueLatency, c.workDuration, c.unfinished, c.longest, c.retries,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
}

type latencyMetric struct{ h *prometheus.HistogramVec }

func (m latencyMetric) Observe(_ context.Context, verb string, u url.URL, latency time.Duration) {
	m.h.WithLabelValues(verb, u.Host).Observe(latency.Seconds())
}

type resultMetric struct{ c *prometheus.CounterVec }

func (m resultMetric) Increment(_ context.Context, code, method, host string) {
	m.c.WithLabelValues(code, method, host).Inc()
}

// queueProvider is client-go's workqueue.MetricsProvider over the workqueue_* vectors.
type queueProvider struct{ c *client }

func (p queueProvider) NewDepthMetric(name string) workqueue.GaugeMetric {
	return p.c.depth.WithLabelValues(name)
}

func (p queueProvider) NewAddsMetric(name string) workqueue.CounterMetric {
	return p.c.adds.WithLabelValues(name)
}

func (p queueProvider) NewLatencyMetric(name string) workqueue.HistogramMetric {
	return p.c.queueLatency.WithLabelValues(name)
}

func (p queueProvider) NewWorkDurationMetric(name string) workqueue.HistogramMetric {
	return p.c.workDuration.WithLabelValues(name)
}

func (p queueProvider) NewUnfinishedWorkSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return p.c.unfinished.WithLabelValues(name)
}

func (p queueProvider) NewLongestRunningProcessorSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return p.c.longest.WithLabelValues(name)
}

func (p queueProvider) NewRetriesMetric(name string) workqueue.CounterMetric {
	return p.c.retries.WithLabelValues(name)
}
