package agent

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// backoff is the exponential back-off kubelets apply to restarting crashed containers and to
// pulling images: the first retry is immediate, the next waits Initial, then twice as long each
// time up to Max. An entry untouched for 2*Max (a container that ran that long) starts over.
type backoff struct {
	initial, max time.Duration
	clock        clock.Clock

	mu      sync.Mutex // guards entries
	entries map[string]*backoffEntry
}

type backoffEntry struct {
	delay      time.Duration
	lastUpdate time.Time
}

func newBackoff(initial, max time.Duration, clk clock.Clock) *backoff {
	return &backoff{initial: initial, max: max, clock: clk, entries: map[string]*backoffEntry{}}
}

// Next records an attempt at eventTime: the delay for key doubles (or starts at initial).
func (b *backoff) Next(key string, eventTime time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || b.expired(e, eventTime) {
		b.entries[key] = &backoffEntry{delay: b.initial, lastUpdate: b.clock.Now()}
		return
	}
	e.delay *= 2
	if e.delay > b.max {
		e.delay = b.max
	}
	e.lastUpdate = b.clock.Now()
}

// InBackoffSince reports whether key must still wait after an event (a container's exit) at
// eventTime, and how long is left.
func (b *backoff) InBackoffSince(key string, eventTime time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || b.expired(e, eventTime) {
		return false, 0
	}
	left := e.delay - b.clock.Since(eventTime)
	return left > 0, left
}

// Delay is key's current delay (0 when it has none).
func (b *backoff) Delay(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[key]; ok {
		return e.delay
	}
	return 0
}

// Reset forgets key.
func (b *backoff) Reset(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.entries, key)
}

// ResetPrefix forgets every key starting with prefix (a pod's containers).
func (b *backoff) ResetPrefix(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(b.entries, k)
		}
	}
}

func (b *backoff) expired(e *backoffEntry, eventTime time.Time) bool {
	return eventTime.Sub(e.lastUpdate) > 2*b.max
}
