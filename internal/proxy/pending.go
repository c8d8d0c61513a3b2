package proxy

import (
	"context"
	"net/netip"
	"sync"
)

// pendingSet counts, per endpoint IP, the connections the proxy has sent there that have not
// yet heard back: being dialled, or connected with no byte from the endpoint so far. A request
// in such a connection may not have reached the application yet; stopping the application now
// could drop it (Go's http.Server, for one, drops a request it reads after Shutdown began).
type pendingSet struct {
	mu      sync.Mutex // guards the fields below
	n       map[netip.Addr]int
	waiters int
	zero    chan struct{} // closed and replaced when a count drops to zero while someone waits
}

func newPendingSet() *pendingSet {
	return &pendingSet{n: map[netip.Addr]int{}, zero: make(chan struct{})}
}

func (s *pendingSet) inc(a netip.Addr) {
	s.mu.Lock()
	s.n[a]++
	s.mu.Unlock()
}

func (s *pendingSet) dec(a netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[a]--; s.n[a] > 0 {
		return
	}
	delete(s.n, a)
	if s.waiters > 0 {
		close(s.zero)
		s.zero = make(chan struct{})
	}
}

// wait blocks until no connection to a is pending, or ctx is done.
func (s *pendingSet) wait(ctx context.Context, a netip.Addr) error {
	for {
		s.mu.Lock()
		if s.n[a] == 0 {
			s.mu.Unlock()
			return nil
		}
		s.waiters++
		zero := s.zero
		s.mu.Unlock()
		select {
		case <-zero:
		case <-ctx.Done():
		}
		s.mu.Lock()
		s.waiters--
		s.mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
