package proxy

import (
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's per-Service-port and per-endpoint counters. The data path only
// increments counters resolved when an endpoint list is applied (a balancer holds its port's,
// each balancer state its endpoints'), so a connection costs an atomic add per counter.
type metrics struct {
	connections   *prometheus.CounterVec // accepted TCP connections and new UDP flows, per Service port
	rejected      *prometheus.CounterVec // connections (datagrams) no endpoint took, per Service port
	endpointConns *prometheus.CounterVec // connections (flows) each endpoint took
	dialErrors    *prometheus.CounterVec // failed dials of an endpoint (the next one is tried)
	active        prometheus.GaugeFunc
}

var (
	// port is the Service port's name (empty for a single unnamed port), as EndpointSlices name it.
	portLabels     = []string{"namespace", "service", "port", "protocol"}
	endpointLabels = []string{"namespace", "service", "port", "protocol", "endpoint"}
)

func newMetrics(open func() float64) *metrics {
	return &metrics{
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skiff_proxy_connections_total",
			Help: "Connections (TCP) and flows (UDP) the service proxy passed to an endpoint, per Service port.",
		}, portLabels),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skiff_proxy_connection_errors_total",
			Help: "Connections (TCP) and datagrams (UDP) the service proxy could not give to any endpoint, per Service port.",
		}, portLabels),
		endpointConns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skiff_proxy_endpoint_connections_total",
			Help: "Connections (TCP) and flows (UDP) the service proxy sent to each endpoint of a Service port.",
		}, endpointLabels),
		dialErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skiff_proxy_endpoint_dial_errors_total",
			Help: "Failed connection attempts to each endpoint of a Service port (the proxy then tries the next endpoint).",
		}, endpointLabels),
		active: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "skiff_proxy_open_connections",
			Help: "Connections (both sides counted) and UDP flows the service proxy holds open.",
		}, open),
	}
}

// Collectors returns the proxy's metrics, for a /metrics registry.
func (p *Proxy) Collectors() []prometheus.Collector {
	m := p.metrics
	return []prometheus.Collector{m.connections, m.rejected, m.endpointConns, m.dialErrors, m.active}
}

func (id portID) labels() []string {
	return []string{id.namespace, id.service, id.port, strings.ToLower(string(id.proto))}
}

// portCounters are one Service port's counters.
type portCounters struct {
	m                     *metrics
	labels                []string
	connections, rejected prometheus.Counter
}

func (m *metrics) forPort(id portID) *portCounters {
	l := id.labels()
	return &portCounters{m: m, labels: l, connections: m.connections.WithLabelValues(l...), rejected: m.rejected.WithLabelValues(l...)}
}

// endpointCounters are one endpoint's counters at one Service port.
type endpointCounters struct {
	connections, dialErrors prometheus.Counter
}

func (c *portCounters) forEndpoint(ep netip.AddrPort) endpointCounters {
	l := append(append(make([]string, 0, len(c.labels)+1), c.labels...), ep.String())
	return endpointCounters{connections: c.m.endpointConns.WithLabelValues(l...), dialErrors: c.m.dialErrors.WithLabelValues(l...)}
}

// forgetEndpoint drops an endpoint's series once it has left the port's list.
func (c *portCounters) forgetEndpoint(ep netip.AddrPort) {
	l := append(append(make([]string, 0, len(c.labels)+1), c.labels...), ep.String())
	c.m.endpointConns.DeleteLabelValues(l...)
	c.m.dialErrors.DeleteLabelValues(l...)
}

// forget drops the port's series once the port is no longer served.
func (c *portCounters) forget() {
	match := prometheus.Labels{}
	for i, name := range portLabels {
		match[name] = c.labels[i]
	}
	c.m.connections.DeletePartialMatch(match)
	c.m.rejected.DeletePartialMatch(match)
	c.m.endpointConns.DeletePartialMatch(match)
	c.m.dialErrors.DeletePartialMatch(match)
}
