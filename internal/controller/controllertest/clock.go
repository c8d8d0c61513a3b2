package controllertest

import (
	"slices"
	"sync"
	"time"

	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// Clock is a fake clock that also knows the deadlines of the timers waiting
// on it, so a test can see that a controller scheduled a re-check (a delayed
// requeue) and for when, before stepping time past it.
type Clock struct {
	*clocktesting.FakeClock
	onTimer func() // called after a timer is created

	mu     sync.Mutex // guards timers
	timers map[*timer]time.Time
}

var _ clock.WithTicker = (*Clock)(nil)

func newClock(t time.Time, onTimer func()) *Clock {
	return &Clock{FakeClock: clocktesting.NewFakeClock(t), onTimer: onTimer, timers: make(map[*timer]time.Time)}
}

type timer struct {
	clock.Timer
	c *Clock
}

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	delete(t.c.timers, t)
	t.c.mu.Unlock()
	return t.Timer.Stop()
}

func (t *timer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	t.c.timers[t] = t.c.Now().Add(d)
	t.c.mu.Unlock()
	return t.Timer.Reset(d)
}

// NewTimer returns a fake timer whose deadline PendingTimers reports.
func (c *Clock) NewTimer(d time.Duration) clock.Timer {
	t := &timer{Timer: c.FakeClock.NewTimer(d), c: c}
	c.mu.Lock()
	c.timers[t] = c.Now().Add(d)
	c.mu.Unlock()
	if c.onTimer != nil {
		c.onTimer()
	}
	return t
}

// After is NewTimer(d).C().
func (c *Clock) After(d time.Duration) <-chan time.Time { return c.NewTimer(d).C() }

// Step advances time, firing timers whose deadline has passed.
func (c *Clock) Step(d time.Duration) {
	c.mu.Lock()
	now := c.Now().Add(d)
	for t, at := range c.timers {
		if !at.After(now) {
			delete(c.timers, t)
		}
	}
	c.mu.Unlock()
	c.FakeClock.Step(d)
}

// PendingTimers returns the deadlines of the timers not yet fired or
// stopped, earliest first.
func (c *Clock) PendingTimers() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Time
	for _, at := range c.timers {
		out = append(out, at)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// HasTimerAt reports whether a timer is pending for exactly at.
func (c *Clock) HasTimerAt(at time.Time) bool {
	return slices.ContainsFunc(c.PendingTimers(), at.Equal)
}
