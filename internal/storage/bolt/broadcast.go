package bolt

import (
	"log/slog"
	"strings"
	"sync"

	"github.com/skiff-dev/skiff/internal/storage"
)

// broadcaster fans committed events out to the live watchers. It never blocks the writer:
// a watcher whose buffer is full is dropped and its live channel closed.
type broadcaster struct {
	log *slog.Logger

	mu       sync.Mutex // guards the fields below
	rev      int64      // revision of the last published events
	watchers map[*watcher]struct{}
	closed   bool
}

// watcher is one watch as the broadcaster sees it.
type watcher struct {
	prefix string
	live   chan storage.Event // closed by the broadcaster, under mu, when the watcher leaves
}

func newBroadcaster(rev int64, log *slog.Logger) *broadcaster {
	return &broadcaster{log: log, rev: rev, watchers: make(map[*watcher]struct{})}
}

// register adds w and returns the revision of the last published events: w receives every
// event after it, and every event at or before it is already in the log.
func (b *broadcaster) register(w *watcher) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, storage.ErrClosed
	}
	b.watchers[w] = struct{}{}
	return b.rev, nil
}

// remove takes w out, closing its live channel, if it is still registered.
func (b *broadcaster) remove(w *watcher) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removeLocked(w)
}

func (b *broadcaster) removeLocked(w *watcher) {
	if _, ok := b.watchers[w]; ok {
		delete(b.watchers, w)
		close(w.live)
	}
}

// publish hands events, the writes of one commit up to revision rev, to every watcher whose
// prefix they match. It is called by the writer goroutine, after the commit, in revision order.
func (b *broadcaster) publish(events []storage.Event, rev int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rev = rev
	for w := range b.watchers {
		for _, ev := range events {
			if !strings.HasPrefix(ev.KV.Key, w.prefix) {
				continue
			}
			select {
			case w.live <- ev:
				continue
			default:
			}
			b.log.Warn("dropping slow watcher", "prefix", w.prefix, "revision", ev.KV.ModRevision, "buffer", cap(w.live))
			b.removeLocked(w)
			break
		}
	}
}

// close removes every watcher and refuses new ones.
func (b *broadcaster) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for w := range b.watchers {
		b.removeLocked(w)
	}
}
