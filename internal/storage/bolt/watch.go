package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/skiff-dev/skiff/internal/storage"
)

// replayChunk is how many log entries one read transaction of a history replay scans, so a
// long replay never holds a transaction (and with it bbolt's remap lock) for long.
const replayChunk = 512

// errHistoryGone stops a replay whose next revision was compacted while it ran.
var errHistoryGone = errors.New("history compacted during replay")

// Watch streams the events on keys under prefix after afterRev: first from the log, then live.
// afterRev 0 means from the current revision on. Events share their Value slices between
// watchers; receivers must not modify them.
func (s *Store) Watch(ctx context.Context, prefix string, afterRev int64) (<-chan storage.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bolt: watch %q: %w", prefix, err)
	}
	if afterRev < 0 {
		return nil, fmt.Errorf("bolt: watch %q: negative revision %d", prefix, afterRev)
	}
	w := &watcher{prefix: prefix, live: make(chan storage.Event, s.opts.WatchBuffer)}
	liveFrom, err := s.bcast.register(w)
	if err != nil {
		return nil, fmt.Errorf("bolt: watch %q: %w", prefix, err)
	}
	if compacted := s.compacted.Load(); afterRev != 0 && afterRev < compacted {
		s.bcast.remove(w)
		return nil, fmt.Errorf("bolt: watch %q after revision %d (compacted to %d): %w", prefix, afterRev, compacted, storage.ErrCompacted)
	}
	out := make(chan storage.Event)
	err = s.goOwned(func() {
		defer close(out)
		defer s.bcast.remove(w)
		s.serveWatch(ctx, w, out, afterRev, liveFrom)
	})
	if err != nil {
		s.bcast.remove(w)
		return nil, fmt.Errorf("bolt: watch %q: %w", prefix, err)
	}
	return out, nil
}

// serveWatch sends w's events to out: the log's events in (afterRev, liveFrom], then the live
// ones after max(afterRev, liveFrom). It returns when ctx ends, the store closes, w is dropped
// or the history it needs is compacted away mid-replay.
func (s *Store) serveWatch(ctx context.Context, w *watcher, out chan<- storage.Event, afterRev, liveFrom int64) {
	last := liveFrom
	if afterRev > liveFrom {
		last = afterRev
	}
	if afterRev != 0 && afterRev < liveFrom {
		if err := s.replay(ctx, w.prefix, afterRev, liveFrom, out); err != nil {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				s.log.Warn("watch replay stopped", "prefix", w.prefix, "after", afterRev, "err", err)
			}
			return
		}
	}
	for {
		select {
		case ev, ok := <-w.live:
			if !ok {
				return // dropped, or the store is closing
			}
			if ev.KV.ModRevision <= last {
				continue
			}
			if !send(ctx, s.ctx, out, ev) {
				return
			}
		case <-ctx.Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// replay sends the logged events under prefix in (afterRev, upTo] to out, reading the log a
// chunk per transaction.
func (s *Store) replay(ctx context.Context, prefix string, afterRev, upTo int64, out chan<- storage.Event) error {
	p := []byte(prefix)
	next := afterRev + 1
	for next <= upTo {
		var events []storage.Event
		err := s.db.View(func(tx *bbolt.Tx) error {
			b, err := txBuckets(tx)
			if err != nil {
				return err
			}
			compacted, err := getMetaInt(b.meta, metaCompacted)
			if err != nil {
				return err
			}
			if next <= compacted {
				return fmt.Errorf("need revision %d, compacted to %d: %w", next, compacted, errHistoryGone)
			}
			c := b.log.Cursor()
			k, v := c.Seek(encodeRev(next))
			for scanned := 0; k != nil && scanned < replayChunk; k, v = c.Next() {
				scanned++
				rev, err := decodeRev(k)
				if err != nil {
					return err
				}
				if rev > upTo {
					next = upTo + 1
					break
				}
				next = rev + 1
				key, err := eventKey(v)
				if err != nil {
					return fmt.Errorf("event at revision %d: %w", rev, err)
				}
				if !bytes.HasPrefix(key, p) {
					continue
				}
				ev, err := decodeEvent(rev, v)
				if err != nil {
					return err
				}
				events = append(events, ev)
			}
			if k == nil {
				next = upTo + 1 // the log ends before upTo: nothing more to read
			}
			return nil
		})
		if err != nil {
			return closedErr(err)
		}
		for _, ev := range events {
			if !send(ctx, s.ctx, out, ev) {
				return context.Canceled
			}
		}
	}
	return nil
}

// send delivers ev on out unless ctx or the store's life ends first.
func send(ctx, storeCtx context.Context, out chan<- storage.Event, ev storage.Event) bool {
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
		return false
	case <-storeCtx.Done():
		return false
	}
}
