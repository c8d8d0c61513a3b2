package controller

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// deadlines adds keys to a queue when they fall due on a clock. A key has at most one deadline
// pending, its earliest. The timer is made by the call that sets the deadline, from that
// moment's time, so a fake clock stepped past a deadline always fires it. (client-go's delaying
// queue remakes its timer from the time it last woke, which a fake clock stepped meanwhile
// leaves in the future.)
type deadlines[K comparable] struct {
	clock clock.WithTicker
	add   func(K)

	mu      sync.Mutex // guards pending and stopped, and wg.Go against stop's wg.Wait
	pending map[K]*deadline
	stopped bool
	wg      sync.WaitGroup // one goroutine per pending deadline
}

type deadline struct {
	at     time.Time
	timer  clock.Timer
	cancel chan struct{} // closed when an earlier deadline replaces this one, or on stop
}

func newDeadlines[K comparable](clk clock.WithTicker, add func(K)) *deadlines[K] {
	return &deadlines[K]{clock: clk, add: add, pending: map[K]*deadline{}}
}

// after adds key once delay has passed, or now if delay is not positive. A deadline already
// pending for key that is as early or earlier stands; a later one is replaced.
func (d *deadlines[K]) after(key K, delay time.Duration) {
	if delay <= 0 {
		d.add(key)
		return
	}
	at := d.clock.Now().Add(delay)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	if cur, ok := d.pending[key]; ok {
		if !cur.at.After(at) {
			return
		}
		cur.timer.Stop()
		close(cur.cancel)
	}
	dl := &deadline{at: at, timer: d.clock.NewTimer(delay), cancel: make(chan struct{})}
	d.pending[key] = dl
	d.wg.Go(func() { d.wait(key, dl) })
}

func (d *deadlines[K]) wait(key K, dl *deadline) {
	select {
	case <-dl.timer.C():
	case <-dl.cancel:
		return
	}
	d.mu.Lock()
	current := d.pending[key] == dl
	if current {
		delete(d.pending, key)
	}
	d.mu.Unlock()
	if current {
		d.add(key)
	}
}

// stop drops every pending deadline, ignores those set later, and returns once no goroutine
// of d is left.
func (d *deadlines[K]) stop() {
	d.mu.Lock()
	d.stopped = true
	for key, dl := range d.pending {
		dl.timer.Stop()
		close(dl.cancel)
		delete(d.pending, key)
	}
	d.mu.Unlock()
	d.wg.Wait()
}
