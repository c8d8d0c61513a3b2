package controllertest

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/client-go/tools/cache"
)

// WaitTimeout bounds every wait; a test that waits longer has failed.
const WaitTimeout = 20 * time.Second

// Changes wakes a waiting Eventually whenever something it watches changes: an event of a
// watched informer, or anything a test reports with Notify (a call on a fake client, say).
// A condition is re-checked after each change, so a test waits exactly as long as the
// controller takes, never a fixed time.
type Changes struct {
	ch chan struct{} // holds a token while a change has not been waited for
}

// NewChanges returns a Changes that watches nothing yet.
func NewChanges() *Changes { return &Changes{ch: make(chan struct{}, 1)} }

// Notify reports a change. It never blocks.
func (c *Changes) Notify() {
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

// Watch reports every add, update and delete of each informer as a change. Call it before
// the informer starts, or after: an informer replays what it holds to a new handler.
func (c *Changes) Watch(t testing.TB, informers ...cache.SharedInformer) {
	t.Helper()
	if err := c.watch(informers...); err != nil {
		t.Fatal(err)
	}
}

func (c *Changes) watch(informers ...cache.SharedInformer) error {
	notify := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.Notify() },
		UpdateFunc: func(any, any) { c.Notify() },
		DeleteFunc: func(any) { c.Notify() },
	}
	for _, inf := range informers {
		if _, err := inf.AddEventHandler(notify); err != nil {
			return fmt.Errorf("controllertest: watch an informer: %w", err)
		}
	}
	return nil
}

// Eventually waits until cond holds, re-checking it after every change. After WaitTimeout it
// fails the test with what and the last explanation cond gave.
func (c *Changes) Eventually(t testing.TB, what string, cond func() (ok bool, why string)) {
	t.Helper()
	timeout := time.NewTimer(WaitTimeout)
	defer timeout.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		select {
		case <-c.ch:
		case <-timeout.C:
			t.Fatalf("timed out waiting for %s: %s", what, why)
		}
	}
}
