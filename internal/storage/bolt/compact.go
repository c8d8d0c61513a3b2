package bolt

import (
	"context"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/skiff-dev/skiff/internal/storage"
)

// compactChunk is how many log entries one compaction transaction deletes, so compaction
// holds bbolt's write lock, and delays writes, only briefly at a time.
const compactChunk = 1000

// Compact deletes the event history at and below rev. It records the new compacted revision
// first, so watches need no more than that, then deletes the log entries a chunk per
// transaction. A compaction cut short (ctx, crash) leaves entries the next one deletes.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	if s.isClosed() {
		return fmt.Errorf("bolt: compact to revision %d: %w", rev, storage.ErrClosed)
	}
	if cur := s.rev.Load(); rev > cur {
		return fmt.Errorf("bolt: compact to revision %d: beyond current revision %d", rev, cur)
	}
	if rev > s.compacted.Load() {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			b, err := txBuckets(tx)
			if err != nil {
				return err
			}
			return putMetaInt(b.meta, metaCompacted, rev)
		})
		if err != nil {
			return fmt.Errorf("bolt: compact to revision %d: %w", rev, closedErr(err))
		}
		s.compacted.Store(rev)
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bolt: compact to revision %d: %w", rev, err)
		}
		more, err := s.deleteLogChunk(s.compacted.Load())
		if err != nil {
			return fmt.Errorf("bolt: compact to revision %d: %w", rev, closedErr(err))
		}
		if !more {
			return nil
		}
	}
}

// deleteLogChunk deletes up to compactChunk of the oldest log entries at or below rev and
// reports whether any remain.
func (s *Store) deleteLogChunk(rev int64) (more bool, err error) {
	// A read transaction first: when nothing is left to delete (the common case for a
	// repeated Compact) it costs no commit and no fsync.
	if err := s.db.View(func(tx *bbolt.Tx) error {
		b, err := txBuckets(tx)
		if err != nil {
			return err
		}
		more, err = logHasAtOrBelow(b.log, rev)
		return err
	}); err != nil || !more {
		return false, err
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b, err := txBuckets(tx)
		if err != nil {
			return err
		}
		// Collect, then delete: deleting under a moving cursor skips entries in bbolt.
		var keys [][]byte
		c := b.log.Cursor()
		for k, _ := c.First(); k != nil && len(keys) < compactChunk; k, _ = c.Next() {
			r, err := decodeRev(k)
			if err != nil {
				return err
			}
			if r > rev {
				break
			}
			keys = append(keys, append([]byte{}, k...))
		}
		for _, k := range keys {
			if err := b.log.Delete(k); err != nil {
				return fmt.Errorf("delete log entry: %w", err)
			}
		}
		more, err = logHasAtOrBelow(b.log, rev)
		return err
	})
	return more, err
}

func logHasAtOrBelow(log *bbolt.Bucket, rev int64) (bool, error) {
	k, _ := log.Cursor().First()
	if k == nil {
		return false, nil
	}
	first, err := decodeRev(k)
	return first <= rev, err
}

// CompactedRevision returns the revision the history has been compacted to.
func (s *Store) CompactedRevision() int64 { return s.compacted.Load() }

// runCompactor compacts the history every CompactInterval, keeping the last HistoryKeep
// revisions, until ctx ends.
func (s *Store) runCompactor(ctx context.Context) {
	t := time.NewTicker(s.opts.CompactInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		target := s.rev.Load() - s.opts.HistoryKeep
		if target <= s.compacted.Load() {
			continue
		}
		if err := s.Compact(ctx, target); err != nil {
			if errors.Is(err, storage.ErrClosed) || ctx.Err() != nil {
				return
			}
			s.log.Error("auto-compaction failed", "revision", target, "err", err)
			continue
		}
		s.log.Debug("compacted", "revision", target)
	}
}
