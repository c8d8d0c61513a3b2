package expectations

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"
)

// TTL is how long expectations are honoured. If the informer never reports
// what was expected (a watch event lost, a create that failed silently), the
// controller goes ahead after this long anyway.
const TTL = 5 * time.Minute

// Cache holds the outstanding expectations of every controller key.
// The zero value is not usable; call New.
type Cache struct {
	clock clock.PassiveClock

	mu      sync.Mutex // guards entries
	entries map[string]*entry
}

type entry struct {
	creations int              // creations requested but not yet observed
	deletions sets.Set[string] // keys of pods whose deletion is not yet observed
	setAt     time.Time
}

// New returns an empty cache that reads time from clk.
func New(clk clock.PassiveClock) *Cache {
	return &Cache{clock: clk, entries: make(map[string]*entry)}
}

// Satisfied reports whether the controller for key may act: it has no
// outstanding expectations, or they have all been observed, or they are older
// than TTL.
func (c *Cache) Satisfied(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return true
	}
	if e.creations <= 0 && e.deletions.Len() == 0 {
		return true
	}
	return c.clock.Since(e.setAt) > TTL
}

// ExpectCreations records that n pods are about to be created for key,
// replacing whatever was expected before.
func (c *Cache) ExpectCreations(key string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[key] = &entry{creations: n, deletions: sets.New[string](), setAt: c.clock.Now()}
}

// CreationObserved records that one expected creation for key was seen (or
// will never happen because the request was not sent or failed).
func (c *Cache) CreationObserved(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		e.creations--
	}
}

// ExpectDeletions records that the pods with the given keys
// ("namespace/name") are about to be deleted for key, replacing whatever was
// expected before.
func (c *Cache) ExpectDeletions(key string, podKeys []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[key] = &entry{deletions: sets.New(podKeys...), setAt: c.clock.Now()}
}

// DeletionObserved records that the pod podKey, if its deletion was expected
// for key, is now gone or terminating. Observing the same pod twice counts once.
func (c *Cache) DeletionObserved(key, podKey string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		e.deletions.Delete(podKey)
	}
}

// Delete forgets everything expected for key, for instance when its
// controller object is deleted.
func (c *Cache) Delete(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}
