package proxy

import (
	"net/netip"
	"testing"
	"time"
)

// BenchmarkEndpointChangeReaction measures the proxy's own reaction to an EndpointSlice change:
// from the API write (to a fake clientset, so no storage cost) until new connections follow it.
func BenchmarkEndpointChangeReaction(b *testing.B) {
	e := newEnv(b, Options{})
	a, c := startBackend(b, "a"), startBackend(b, "c")
	e.createService(e.service(30140))
	addr := netip.AddrPortFrom(e.clusterIP, 80)
	e.setEndpoints(a.addr.String())
	e.waitFor("a", e.serving(addr, a.addr))
	var worst time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		if i%2 == 0 {
			e.setEndpoints(a.addr.String(), c.addr.String())
			e.waitFor("a and c", e.serving(addr, a.addr, c.addr))
		} else {
			e.setEndpoints(a.addr.String())
			e.waitFor("a", e.serving(addr, a.addr))
		}
		worst = max(worst, time.Since(start))
		i++
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
}
