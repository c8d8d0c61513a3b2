package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/skiff-dev/skiff/internal/storage"
)

// ErrInvalidKey is returned for an empty key or one longer than bbolt allows.
var ErrInvalidKey = errors.New("bolt: invalid key")

// maxBatch bounds how many writes share one transaction, so one commit stays short.
const maxBatch = 256

type writeOp int

const (
	opCreate writeOp = iota
	opUpdate
	opDelete
)

func (op writeOp) String() string {
	switch op {
	case opCreate:
		return "create"
	case opUpdate:
		return "update"
	default:
		return "delete"
	}
}

// writeReq is one write handed to the writer goroutine, which always answers on res.
type writeReq struct {
	ctx         context.Context
	op          writeOp
	key         string
	value       []byte
	expectedRev int64
	res         chan writeResult // buffered, capacity 1
}

type writeResult struct {
	rev  int64
	prev storage.KeyValue // the deleted value, for opDelete
	err  error
}

// Create writes key only if it does not exist.
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	res := s.write(ctx, &writeReq{op: opCreate, key: key, value: bytes.Clone(value)})
	return res.rev, res.err
}

// Update writes key only if its ModRevision is expectedRev (0: any).
func (s *Store) Update(ctx context.Context, key string, value []byte, expectedRev int64) (int64, error) {
	res := s.write(ctx, &writeReq{op: opUpdate, key: key, value: bytes.Clone(value), expectedRev: expectedRev})
	return res.rev, res.err
}

// Delete removes key only if its ModRevision is expectedRev (0: any).
func (s *Store) Delete(ctx context.Context, key string, expectedRev int64) (storage.KeyValue, int64, error) {
	res := s.write(ctx, &writeReq{op: opDelete, key: key, expectedRev: expectedRev})
	return res.prev, res.rev, res.err
}

// write hands r to the writer goroutine and waits until it is committed or refused. If ctx
// ends before the writer applies r, nothing is written and the result is ctx's error; once
// applied, the write is waited for regardless of ctx, so an error always means "not written".
func (s *Store) write(ctx context.Context, r *writeReq) writeResult {
	res := s.submit(ctx, r)
	if res.err != nil {
		res.err = fmt.Errorf("bolt: %s %q: %w", r.op, r.key, res.err)
	}
	return res
}

func (s *Store) submit(ctx context.Context, r *writeReq) writeResult {
	if len(r.key) == 0 || len(r.key) > bbolt.MaxKeySize {
		return writeResult{err: ErrInvalidKey}
	}
	if err := ctx.Err(); err != nil {
		return writeResult{err: err}
	}
	r.ctx = ctx
	r.res = make(chan writeResult, 1)
	select {
	case s.writes <- r:
	case <-s.ctx.Done():
		return writeResult{err: storage.ErrClosed}
	case <-ctx.Done():
		return writeResult{err: ctx.Err()}
	}
	return <-r.res
}

// runWriter is the only goroutine that writes keys. It takes every request that is waiting,
// commits them in one transaction (one fsync), publishes their events and answers each.
// Alone, a write gets its own commit at once; under load, writes queue up behind the commit
// in progress and share the next one.
func (s *Store) runWriter(ctx context.Context) {
	batch := make([]*writeReq, 0, maxBatch)
	for ctx.Err() == nil { // once closing, stop taking writes even if some are waiting
		select {
		case <-ctx.Done():
			return
		case r := <-s.writes:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-s.writes:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commit(batch)
		clear(batch)
	}
}

// commit applies batch in one transaction and answers every request in it.
func (s *Store) commit(batch []*writeReq) {
	results := make([]writeResult, len(batch))
	events, rev, applied, err := s.applyBatch(batch, results)
	switch {
	case err != nil && !applied && len(batch) > 1:
		// A storage error while applying (not while committing): rerun each write alone
		// so only the one that fails is refused.
		for _, r := range batch {
			s.commit([]*writeReq{r})
		}
		return
	case err != nil:
		s.log.Error("write failed", "writes", len(batch), "err", err)
		for i := range results {
			results[i] = writeResult{err: closedErr(err)}
		}
	case len(events) > 0:
		s.commits.Add(1)
		s.rev.Store(rev)
		s.bcast.publish(events, rev)
	}
	for i, r := range batch {
		r.res <- results[i]
	}
}

// applyBatch applies every request of batch whose ctx is still live in one transaction and
// commits it. Refused writes (ErrExists, ErrNotFound, ErrConflict) only set their result. It
// returns the events written, the new store revision, and whether a failure happened at
// commit (applied true) rather than while applying.
func (s *Store) applyBatch(batch []*writeReq, results []writeResult) (events []storage.Event, rev int64, applied bool, err error) {
	tx, err := s.db.Begin(true)
	if err != nil {
		return nil, 0, false, fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	b, err := txBuckets(tx)
	if err != nil {
		return nil, 0, false, err
	}
	b.log.FillPercent = 1 // the log is append-only: fill pages completely
	base := s.rev.Load()
	rev = base
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i].err = err
			continue
		}
		ev, res, err := apply(b, r, rev+1)
		if err != nil {
			return nil, 0, false, err
		}
		results[i] = res
		if res.err == nil {
			rev++
			events = append(events, ev)
		}
	}
	if rev == base {
		return nil, base, false, nil // nothing to write: no commit, no fsync
	}
	if err := putMetaInt(b.meta, metaRevision, rev); err != nil {
		return nil, 0, false, err
	}
	committed = true // Commit rolls back itself on failure
	if err := tx.Commit(); err != nil {
		return nil, 0, true, fmt.Errorf("commit: %w", err)
	}
	return events, rev, true, nil
}

// apply performs r as the write at revision rev. A refused write sets res.err and changes
// nothing; a returned error is a storage failure that leaves the transaction unusable.
func apply(b buckets, r *writeReq, rev int64) (storage.Event, writeResult, error) {
	var cur storage.KeyValue
	v := b.kv.Get([]byte(r.key))
	found := v != nil
	if found {
		var err error
		if cur, err = decodeKV(r.key, v); err != nil {
			return storage.Event{}, writeResult{}, err
		}
	}

	var ev storage.Event
	switch r.op {
	case opCreate:
		if found {
			return storage.Event{}, writeResult{err: storage.ErrExists}, nil
		}
		ev = storage.Event{Type: storage.EventPut, KV: storage.KeyValue{
			Key: r.key, Value: r.value, CreateRevision: rev, ModRevision: rev,
		}}
	case opUpdate, opDelete:
		if !found {
			return storage.Event{}, writeResult{err: storage.ErrNotFound}, nil
		}
		if r.expectedRev != 0 && r.expectedRev != cur.ModRevision {
			return storage.Event{}, writeResult{err: storage.ErrConflict}, nil
		}
		ev = storage.Event{Type: storage.EventPut, PrevKV: &cur, KV: storage.KeyValue{
			Key: r.key, Value: r.value, CreateRevision: cur.CreateRevision, ModRevision: rev,
		}}
		if r.op == opDelete {
			ev.Type = storage.EventDelete
			ev.KV.Value = cur.Value
		}
	}

	var err error
	if ev.Type == storage.EventDelete {
		err = b.kv.Delete([]byte(r.key))
	} else {
		err = b.kv.Put([]byte(r.key), encodeKV(ev.KV))
	}
	if err != nil {
		return storage.Event{}, writeResult{}, fmt.Errorf("write key %q: %w", r.key, err)
	}
	if err := b.log.Put(encodeRev(rev), encodeEvent(ev)); err != nil {
		return storage.Event{}, writeResult{}, fmt.Errorf("append revision %d: %w", rev, err)
	}
	res := writeResult{rev: rev}
	if r.op == opDelete {
		res.prev = cur
		res.prev.Value = bytes.Clone(cur.Value) // cur.Value is also in the event watchers get
	}
	return ev, res, nil
}
