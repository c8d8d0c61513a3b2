package apiserver

import "sync"

// keyLocks serializes this server's own read-modify-writes of one storage key. Without it,
// concurrent patches of one object all read the same version and all but one lose the
// compare-and-swap, retrying in a storm whose last writer can exhaust its attempts; with it each
// reads the version the previous one wrote and succeeds at once. Writes of different keys never
// wait for each other. Conflicts with writers that do not take the lock (creates, deletes,
// another server) are still retried by guaranteedUpdate.
type keyLocks struct {
	mu   sync.Mutex // guards held
	held map[string]*keyLock
}

type keyLock struct {
	sync.Mutex
	users int // holders and waiters; the entry goes when the last one unlocks
}

// lock locks key and returns its unlock.
func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.held == nil {
		k.held = map[string]*keyLock{}
	}
	l := k.held[key]
	if l == nil {
		l = &keyLock{}
		k.held[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.held, key)
		}
		k.mu.Unlock()
	}
}
