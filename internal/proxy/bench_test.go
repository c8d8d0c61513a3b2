package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkProxyOverhead compares HTTP requests straight to a backend with the same requests
// through the proxy's NodePort, all on loopback in this process: one new connection per request
// (as `curl` in a loop) and keep-alive, with one client (latency) and 16 concurrent clients
// (throughput). Direct and proxied requests alternate in batches of 500, so that load from
// elsewhere on the machine hits both alike. b.N requests go each way. Reported: req/s each way,
// the proxy's throughput as a percentage of direct, p50 and p99 latency each way, and the p50 and
// p99 the proxy adds.
//
//	go test -run '^$' -bench ProxyOverhead -benchtime 20000x ./internal/proxy/
func BenchmarkProxyOverhead(b *testing.B) {
	e := newEnv(b, Options{})
	be := startBackend(b, "bench")
	e.createService(e.service(30150))
	e.setEndpoints(be.addr.String())
	nodePort := netip.AddrPortFrom(e.nodeIP, 30150)
	e.waitFor("node port", e.serving(nodePort, be.addr))

	for _, mode := range []struct {
		name      string
		keepAlive bool
	}{{"new-conn", false}, {"keep-alive", true}} {
		for _, clients := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/clients=%d", mode.name, clients), func(b *testing.B) {
				direct := newLoadTarget(b, "http://"+be.addr.String()+"/", clients, mode.keepAlive)
				proxied := newLoadTarget(b, "http://"+nodePort.String()+"/", clients, mode.keepAlive)
				b.ResetTimer()
				for done := 0; done < b.N; {
					n := min(500, b.N-done)
					direct.run(b, n)
					proxied.run(b, n)
					done += n
				}
				b.StopTimer()
				d, p := direct.result(), proxied.result()
				b.ReportMetric(d.rate, "direct-req/s")
				b.ReportMetric(p.rate, "proxy-req/s")
				b.ReportMetric(100*p.rate/d.rate, "%-of-direct")
				b.ReportMetric(d.p50, "direct-p50-µs")
				b.ReportMetric(p.p50, "proxy-p50-µs")
				b.ReportMetric(d.p99, "direct-p99-µs")
				b.ReportMetric(p.p99, "proxy-p99-µs")
				b.ReportMetric(p.p99-d.p99, "added-p99-µs")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// loadTarget sends requests to one URL from a fixed number of clients and keeps their latencies.
type loadTarget struct {
	do      func() error
	clients int
	lat     []time.Duration
	elapsed time.Duration
	close   func()
}

func newLoadTarget(b *testing.B, url string, clients int, keepAlive bool) *loadTarget {
	tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: clients,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t := &loadTarget{clients: clients, do: func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}}
	for range 100 { // warm up connections, goroutines and buffers
		if err := t.do(); err != nil {
			b.Fatal(err)
		}
	}
	return t
}

// run sends n requests, spread over the clients.
func (t *loadTarget) run(b *testing.B, n int) {
	lat := make([]time.Duration, n)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range t.clients {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t0 := time.Now()
				if err := t.do(); err != nil {
					failed.Add(1)
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	t.elapsed += time.Since(start)
	t.lat = append(t.lat, lat...)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d requests failed", f, n)
	}
}

type loadResult struct{ rate, p50, p99 float64 }

func (t *loadTarget) result() loadResult {
	slices.Sort(t.lat)
	pct := func(p float64) float64 { return float64(t.lat[int(float64(len(t.lat)-1)*p)].Nanoseconds()) / 1e3 }
	return loadResult{rate: float64(len(t.lat)) / t.elapsed.Seconds(), p50: pct(0.50), p99: pct(0.99)}
}
