package storage

import (
	"context"
	"errors"
)

// Sentinel errors. Callers branch with errors.Is.
var (
	ErrNotFound  = errors.New("storage: key not found")
	ErrExists    = errors.New("storage: key already exists")
	ErrConflict  = errors.New("storage: revision conflict")
	ErrCompacted = errors.New("storage: required revision has been compacted")
	ErrClosed    = errors.New("storage: store is closed")
)

// KeyValue is one stored value and the revisions that describe it.
type KeyValue struct {
	Key            string
	Value          []byte
	CreateRevision int64 // revision of the write that created the key
	ModRevision    int64 // revision of the last write to the key
}

// EventType says what a watch event did to its key.
type EventType int

const (
	EventPut    EventType = iota // the key was created or updated
	EventDelete                  // the key was deleted
)

// Event is one change to one key.
//
// For EventPut, KV is the new value and PrevKV the previous one (nil on create).
// For EventDelete, KV.Key is the key, KV.ModRevision the revision of the delete and
// KV.Value the last value the key held; PrevKV is that last KeyValue as it was stored.
type Event struct {
	Type   EventType
	KV     KeyValue
	PrevKV *KeyValue
}

// Reader reads the current state.
type Reader interface {
	// Get returns the current value of key, or ErrNotFound.
	Get(ctx context.Context, key string) (KeyValue, error)
	// List returns every key that starts with prefix, in key order, read from one consistent
	// snapshot, and the store revision that snapshot is at.
	List(ctx context.Context, prefix string) (kvs []KeyValue, rev int64, err error)
	// Revision returns the current store revision (0 for an empty, new store).
	Revision(ctx context.Context) (int64, error)
}

// Writer changes keys. Every successful write is durable (fsync'd) before it returns and
// returns the new store revision, which is also the ModRevision of the written key.
type Writer interface {
	// Create writes key only if it does not exist, else ErrExists.
	Create(ctx context.Context, key string, value []byte) (rev int64, err error)
	// Update writes key only if its current ModRevision equals expectedRev: ErrNotFound if the key
	// does not exist, ErrConflict if its ModRevision differs. expectedRev 0 means unconditional
	// (the key must still exist).
	Update(ctx context.Context, key string, value []byte, expectedRev int64) (rev int64, err error)
	// Delete removes key only if its current ModRevision equals expectedRev (0: unconditional).
	// It returns the deleted KeyValue and the revision of the delete.
	Delete(ctx context.Context, key string, expectedRev int64) (prev KeyValue, rev int64, err error)
}

// Watcher streams changes.
type Watcher interface {
	// Watch sends, in revision order, every event on keys starting with prefix whose revision is
	// greater than afterRev, first the stored history and then live events, until ctx is done
	// (then the channel is closed). afterRev 0 means "from the current revision": no history.
	// If afterRev is older than the compacted revision it returns ErrCompacted. A watcher that
	// falls too far behind is dropped: its channel is closed early, and the caller re-lists and
	// watches again. Closing the store closes every watch channel. Events may share their Value
	// slices with other watchers: receivers must not modify them.
	Watch(ctx context.Context, prefix string, afterRev int64) (<-chan Event, error)
}

// Store is the whole interface the API server uses.
type Store interface {
	Reader
	Writer
	Watcher
	// Compact discards the event history at and below rev. Watches from a revision < rev then
	// get ErrCompacted. Compacting an already-compacted revision is a no-op.
	Compact(ctx context.Context, rev int64) error
	// CompactedRevision returns the revision history has been compacted to (0 if never).
	CompactedRevision() int64
	// Close releases the store; every later call returns ErrClosed, except Close, which
	// returns nil.
	Close() error
}
