package proxy

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"
)

// DefaultAffinityTimeout is how long a ClientIP session affinity lasts without traffic when the
// Service does not say: upstream's default, 3 hours.
const DefaultAffinityTimeout = 10800 * time.Second

// balancer picks the endpoint of each new connection to one Service port. Its endpoint list is
// swapped atomically, so picking takes no lock unless the port has ClientIP affinity.
type balancer struct {
	name  string // "namespace/service:port" for logs
	clock clock.PassiveClock

	state atomic.Pointer[balancerState]
	next  atomic.Uint64 // round-robin position

	// counters, when set (before the first update), count the port's connections.
	counters *portCounters

	mu       sync.Mutex // guards the fields below
	sticky   map[netip.Addr]stickyEntry
	inserted int // sticky entries added since the last purge of expired ones
}

// balancerState is one immutable endpoint list with the affinity setting that goes with it.
type balancerState struct {
	endpoints []netip.AddrPort // sorted
	index     map[netip.AddrPort]bool
	affinity  time.Duration // 0: no session affinity
	// counters are each endpoint's, when the balancer counts.
	counters map[netip.AddrPort]endpointCounters
}

type stickyEntry struct {
	endpoint netip.AddrPort
	last     time.Time
}

func newBalancer(name string, clk clock.PassiveClock) *balancer {
	b := &balancer{name: name, clock: clk, sticky: map[netip.Addr]stickyEntry{}}
	b.state.Store(&balancerState{index: map[netip.AddrPort]bool{}})
	return b
}

// update replaces the endpoint list and affinity setting. It reports whether either changed.
func (b *balancer) update(endpoints []netip.AddrPort, affinity time.Duration) bool {
	cur := b.state.Load()
	if cur.affinity == affinity && slices.Equal(cur.endpoints, endpoints) {
		return false
	}
	st := &balancerState{endpoints: endpoints, index: make(map[netip.AddrPort]bool, len(endpoints)), affinity: affinity}
	for _, e := range endpoints {
		st.index[e] = true
	}
	if b.counters != nil {
		st.counters = make(map[netip.AddrPort]endpointCounters, len(endpoints))
		for _, e := range endpoints {
			if c, ok := cur.counters[e]; ok {
				st.counters[e] = c
			} else {
				st.counters[e] = b.counters.forEndpoint(e)
			}
		}
		for e := range cur.counters {
			if !st.index[e] {
				b.counters.forgetEndpoint(e)
			}
		}
	}
	b.state.Store(st)
	if affinity != cur.affinity {
		b.mu.Lock()
		clear(b.sticky)
		b.mu.Unlock()
	}
	return true
}

// count records a connection (flow) the balancer's port accepted and the endpoint it went to.
func (b *balancer) count(ep netip.AddrPort) {
	if b.counters == nil {
		return
	}
	b.counters.connections.Inc()
	if c, ok := b.state.Load().counters[ep]; ok {
		c.connections.Inc()
	}
}

// countRejected records a connection (datagram) no endpoint took.
func (b *balancer) countRejected() {
	if b.counters != nil {
		b.counters.rejected.Inc()
	}
}

// countDialError records a failed dial of ep.
func (b *balancer) countDialError(ep netip.AddrPort) {
	if b.counters == nil {
		return
	}
	if c, ok := b.state.Load().counters[ep]; ok {
		c.dialErrors.Inc()
	}
}

// endpoints returns the current endpoint list; callers must not modify it.
func (b *balancer) endpoints() []netip.AddrPort { return b.state.Load().endpoints }

// pick returns the endpoint for a new connection from client, skipping those in tried (the ones
// that already refused this connection). With ClientIP affinity a client keeps its endpoint
// while it lasts and is in the list; otherwise endpoints take turns.
func (b *balancer) pick(client netip.Addr, tried []netip.AddrPort) (netip.AddrPort, bool) {
	st := b.state.Load()
	n := len(st.endpoints)
	if n == 0 {
		return netip.AddrPort{}, false
	}
	if st.affinity > 0 && len(tried) == 0 {
		if ep, ok := b.stickyFor(client, st); ok {
			return ep, true
		}
	}
	for range n {
		ep := st.endpoints[(b.next.Add(1)-1)%uint64(n)]
		if slices.Contains(tried, ep) {
			continue
		}
		if st.affinity > 0 {
			b.stick(client, ep, st.affinity)
		}
		return ep, true
	}
	return netip.AddrPort{}, false
}

func (b *balancer) stickyFor(client netip.Addr, st *balancerState) (netip.AddrPort, bool) {
	now := b.clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.sticky[client]
	if !ok || !st.index[e.endpoint] || now.Sub(e.last) > st.affinity {
		return netip.AddrPort{}, false
	}
	e.last = now
	b.sticky[client] = e
	return e.endpoint, true
}

func (b *balancer) stick(client netip.Addr, ep netip.AddrPort, timeout time.Duration) {
	now := b.clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sticky[client] = stickyEntry{endpoint: ep, last: now}
	b.inserted++
	if b.inserted >= 1024 {
		b.inserted = 0
		for k, e := range b.sticky {
			if now.Sub(e.last) > timeout {
				delete(b.sticky, k)
			}
		}
	}
}

// serves reports whether ip is one of the endpoints new connections may go to.
func (b *balancer) serves(ip netip.Addr) bool {
	for _, ep := range b.state.Load().endpoints {
		if ep.Addr() == ip {
			return true
		}
	}
	return false
}
