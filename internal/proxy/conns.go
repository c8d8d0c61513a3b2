package proxy

import (
	"io"
	"sync"
	"sync/atomic"
)

// connSet owns the connections the proxy has open, so that Run can close them and wait for
// their goroutines when it stops.
type connSet struct {
	mu     sync.Mutex // guards open and closed
	open   map[io.Closer]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newConnSet() *connSet { return &connSet{open: map[io.Closer]struct{}{}} }

// add takes ownership of c; the caller must call done(c) when it is finished with it. It
// returns false, owning nothing, once the set is shut down.
func (s *connSet) add(c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.open[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// size is the number of connections open.
func (s *connSet) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open)
}

func (s *connSet) done(c io.Closer) {
	s.mu.Lock()
	delete(s.open, c)
	s.mu.Unlock()
	s.wg.Done()
}

// shutdown closes every open connection and waits until their owners are done.
func (s *connSet) shutdown() {
	s.mu.Lock()
	s.closed = true
	for c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// stats count what the data path did, for tests and debugging.
type stats struct {
	accepted     atomic.Int64 // TCP connections accepted
	rejected     atomic.Int64 // connections (or datagrams) no endpoint took
	dialFailures atomic.Int64 // endpoint dials that failed and were retried elsewhere
}
