package proxy

import (
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// counterValue reads one counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// seriesOf counts the series a collector holds.
func seriesOf(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 1024)
	c.Collect(ch)
	close(ch)
	return len(ch)
}

func TestProxyMetricsCountPerServiceAndEndpoint(t *testing.T) {
	e := newEnv(t, Options{})
	live := startBackend(t, "live")
	dead := startBackend(t, "dead")
	dead.stop()
	e.createService(e.service(30131))
	e.setEndpoints(dead.addr.String(), live.addr.String())
	addr := netip.AddrPortFrom(e.clusterIP, 80)
	e.waitFor("both endpoints", e.serving(addr, dead.addr, live.addr))
	for i := range 10 {
		if _, err := get(addr, netip.Addr{}); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	m := e.proxy.metrics
	port := []string{"default", "kubia", "", "tcp"}
	ep := func(a netip.AddrPort) []string { return append(append([]string{}, port...), a.String()) }
	// waitFor's probes count too, so the figures are lower bounds.
	if got := counterValue(t, m.connections.WithLabelValues(port...)); got < 10 {
		t.Errorf("connections of default/kubia = %v, want at least 10", got)
	}
	if got := counterValue(t, m.endpointConns.WithLabelValues(ep(live.addr)...)); got < 10 {
		t.Errorf("connections to the live endpoint = %v, want at least 10", got)
	}
	if got := counterValue(t, m.endpointConns.WithLabelValues(ep(dead.addr)...)); got != 0 {
		t.Errorf("connections to the stopped endpoint = %v, want 0", got)
	}
	if got := counterValue(t, m.dialErrors.WithLabelValues(ep(dead.addr)...)); got < 4 {
		t.Errorf("dial errors of the stopped endpoint = %v, want about 5", got)
	}

	// An endpoint that leaves the list takes its series with it; no endpoint at all is an error.
	e.setEndpoints()
	e.waitFor("no endpoints", e.serving(addr))
	if _, err := get(addr, netip.Addr{}); err == nil {
		t.Fatal("a request with no endpoints succeeded")
	}
	if got := counterValue(t, m.rejected.WithLabelValues(port...)); got < 1 {
		t.Errorf("rejected connections = %v, want at least 1", got)
	}
	if n := seriesOf(m.endpointConns); n != 0 {
		t.Errorf("%d endpoint series left after every endpoint went", n)
	}
}
