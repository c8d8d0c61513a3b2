package agent

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/skiff-dev/skiff/internal/agent/process"
	"github.com/skiff-dev/skiff/internal/metrics"
)

// The agent's Prometheus series, under the kubelet's names: on /metrics the node's and its
// pods' (kubelet_*), and on /metrics/resource their resource usage as the kubelet's resource
// metrics endpoint publishes it (cumulative CPU seconds and working-set memory).

var (
	nodeNameDesc  = prometheus.NewDesc("kubelet_node_name", "The node's name. The count is always 1.", []string{"node"}, nil)
	runningPods   = prometheus.NewDesc("kubelet_running_pods", "Number of pods that have a running container.", nil, nil)
	runningCtrs   = prometheus.NewDesc("kubelet_running_containers", "Number of containers currently running.", []string{"container_state"}, nil)
	nodeCPU       = prometheus.NewDesc("node_cpu_usage_seconds_total", "Cumulative cpu time consumed by the node in core-seconds", nil, nil)
	nodeMemory    = prometheus.NewDesc("node_memory_working_set_bytes", "Current working set of the node in bytes", nil, nil)
	ctrLabels     = []string{"container", "pod", "namespace"}
	ctrCPU        = prometheus.NewDesc("container_cpu_usage_seconds_total", "Cumulative cpu time consumed by the container in core-seconds", ctrLabels, nil)
	ctrMemory     = prometheus.NewDesc("container_memory_working_set_bytes", "Current working set of the container in bytes", ctrLabels, nil)
	podCPU        = prometheus.NewDesc("pod_cpu_usage_seconds_total", "Cumulative cpu time consumed by the pod in core-seconds", []string{"pod", "namespace"}, nil)
	podMemory     = prometheus.NewDesc("pod_memory_working_set_bytes", "Current working set of the pod in bytes", []string{"pod", "namespace"}, nil)
	scrapeErrDesc = prometheus.NewDesc("scrape_error", "1 if there was an error while getting container metrics, 0 otherwise", nil, nil)
)

// nodeCollector is the agent's kubelet_* series.
type nodeCollector struct{ a *Agent }

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- nodeNameDesc
	ch <- runningPods
	ch <- runningCtrs
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(nodeNameDesc, prometheus.GaugeValue, 1, c.a.opts.NodeName)
	pods := map[string]bool{}
	n := 0
	for _, rc := range c.a.runningContainers() {
		if st, ok := c.a.runtime.State(rc.id); ok && st.Running {
			n++
			pods[string(rc.pod.UID)] = true
		}
	}
	ch <- prometheus.MustNewConstMetric(runningPods, prometheus.GaugeValue, float64(len(pods)))
	ch <- prometheus.MustNewConstMetric(runningCtrs, prometheus.GaugeValue, float64(n), "running")
}

// resourceCollector is the kubelet's resource metrics: usage read at scrape time.
type resourceCollector struct{ a *Agent }

func (c resourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{nodeCPU, nodeMemory, ctrCPU, ctrMemory, podCPU, podMemory, scrapeErrDesc} {
		ch <- d
	}
}

func (c resourceCollector) Collect(ch chan<- prometheus.Metric) {
	failed := 0.0
	if node, err := process.ReadNodeUsage(); err == nil {
		ch <- prometheus.MustNewConstMetric(nodeCPU, prometheus.CounterValue, node.CPU.Seconds())
		ch <- prometheus.MustNewConstMetric(nodeMemory, prometheus.GaugeValue, float64(node.Memory))
	} else {
		failed = 1
	}
	ctrs, usage := c.a.measure()
	type podKey struct{ ns, name string }
	type sum struct{ cpu, mem float64 }
	pods := map[podKey]*sum{}
	for _, rc := range ctrs {
		u, ok := usage[rc.id]
		if !ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(ctrCPU, prometheus.CounterValue, u.CPU.Seconds(), rc.name, rc.pod.Name, rc.pod.Namespace)
		ch <- prometheus.MustNewConstMetric(ctrMemory, prometheus.GaugeValue, float64(u.Memory), rc.name, rc.pod.Name, rc.pod.Namespace)
		k := podKey{rc.pod.Namespace, rc.pod.Name}
		if pods[k] == nil {
			pods[k] = &sum{}
		}
		pods[k].cpu += u.CPU.Seconds()
		pods[k].mem += float64(u.Memory)
	}
	for k, s := range pods {
		ch <- prometheus.MustNewConstMetric(podCPU, prometheus.CounterValue, s.cpu, k.name, k.ns)
		ch <- prometheus.MustNewConstMetric(podMemory, prometheus.GaugeValue, s.mem, k.name, k.ns)
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, failed)
}

// Collectors returns the agent's node and resource collectors, for a process that serves them
// on its own /metrics (the server, for its embedded node).
func (a *Agent) Collectors() []prometheus.Collector {
	return []prometheus.Collector{nodeCollector{a}, resourceCollector{a}}
}

// metricsHandlers return the handlers of the agent's /metrics (its node series, extra, and
// what every skiff process serves) and /metrics/resource.
func (a *Agent) metricsHandlers(extra []prometheus.Collector) (all, res http.Handler) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(nodeCollector{a})
	reg.MustRegister(metrics.Collectors()...)
	reg.MustRegister(extra...)
	resReg := prometheus.NewRegistry()
	resReg.MustRegister(resourceCollector{a})
	opts := promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}
	return promhttp.HandlerFor(reg, opts), promhttp.HandlerFor(resReg, opts)
}
