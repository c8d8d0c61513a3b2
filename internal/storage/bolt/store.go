package bolt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/skiff-dev/skiff/internal/storage"
)

// Option defaults.
const (
	DefaultCompactInterval = time.Minute
	DefaultHistoryKeep     = 10000
	DefaultWatchBuffer     = 1024
	DefaultOpenTimeout     = time.Second
)

// schemaVersion is written to the meta bucket of a new file; Open refuses any other version.
const schemaVersion = 1

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Log receives the store's own logs; nil discards them.
	Log *slog.Logger
	// CompactInterval is how often the event history is compacted; 0 means
	// DefaultCompactInterval and a negative value turns auto-compaction off.
	CompactInterval time.Duration
	// HistoryKeep is how many revisions of event history auto-compaction keeps; 0 means
	// DefaultHistoryKeep.
	HistoryKeep int64
	// WatchBuffer is how many events a watcher may fall behind before it is dropped; 0 means
	// DefaultWatchBuffer.
	WatchBuffer int
	// OpenTimeout is how long Open waits for another process to release the file lock;
	// 0 means DefaultOpenTimeout.
	OpenTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.CompactInterval == 0 {
		o.CompactInterval = DefaultCompactInterval
	}
	if o.HistoryKeep <= 0 {
		o.HistoryKeep = DefaultHistoryKeep
	}
	if o.WatchBuffer <= 0 {
		o.WatchBuffer = DefaultWatchBuffer
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = DefaultOpenTimeout
	}
	return o
}

// Store is a storage.Store kept in one bbolt file. Open it with Open and stop it with Close.
type Store struct {
	db     *bbolt.DB
	log    *slog.Logger
	opts   Options
	writes chan *writeReq // unbuffered: a send hands the request to the writer goroutine
	bcast  *broadcaster

	rev       atomic.Int64 // last committed revision; written only by the writer goroutine
	compacted atomic.Int64 // last compacted revision; written only under compactMu
	commits   atomic.Int64 // write transactions committed, for tests and benchmarks
	compactMu sync.Mutex   // serialises compactions

	// ctx lives as long as the store; Close cancels it to stop every goroutine below.
	ctx  context.Context
	stop context.CancelFunc

	mu     sync.Mutex     // guards closed and wg.Add, so no goroutine starts once Close waits
	closed bool           //
	wg     sync.WaitGroup // the writer, the compactor and every watcher goroutine
}

var _ storage.Store = (*Store)(nil)

// Open opens or creates the store file at path. It fails after opts.OpenTimeout if another
// process holds the file.
func Open(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: opts.OpenTimeout,
		// The freelist is rebuilt by scanning on open instead of being written by every commit.
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: file is locked by another process (waited %s): %w", path, opts.OpenTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	var st metaState
	if err := db.Update(func(tx *bbolt.Tx) (err error) {
		st, err = initMeta(tx)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}

	log := opts.Log.With("component", "storage/bolt")
	s := &Store{
		db:     db,
		log:    log,
		opts:   opts,
		writes: make(chan *writeReq),
		bcast:  newBroadcaster(st.rev, log),
	}
	s.rev.Store(st.rev)
	s.compacted.Store(st.compacted)
	s.ctx, s.stop = context.WithCancel(context.Background())

	s.wg.Go(func() { s.runWriter(s.ctx) })
	if opts.CompactInterval > 0 {
		s.wg.Go(func() { s.runCompactor(s.ctx) })
	}
	log.Info("opened", "path", path, "revision", st.rev, "compacted", st.compacted)
	return s, nil
}

// Close stops the writer and the compactor, closes every watch channel and closes the file.
// Writes that were already handed to the writer finish first. Calling Close again returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.stop()
	s.mu.Unlock()

	s.bcast.close()
	s.wg.Wait()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("bolt: close: %w", err)
	}
	return nil
}

// goOwned runs fn on a goroutine owned by the store, which Close waits for. It returns
// ErrClosed instead once Close has begun.
func (s *Store) goOwned(fn func()) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return storage.ErrClosed
	}
	s.wg.Go(fn)
	return nil
}

// isClosed reports whether Close has begun.
func (s *Store) isClosed() bool { return s.ctx.Err() != nil }

// closedErr maps bbolt's "database not open" to storage.ErrClosed.
func closedErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return storage.ErrClosed
	}
	return err
}
