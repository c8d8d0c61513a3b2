package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/skiff-dev/skiff/internal/storage"
)

// listCtxEvery is how many keys List reads between checks of its ctx.
const listCtxEvery = 1024

// Get returns the current value of key.
func (s *Store) Get(ctx context.Context, key string) (storage.KeyValue, error) {
	if err := ctx.Err(); err != nil {
		return storage.KeyValue{}, fmt.Errorf("bolt: get %q: %w", key, err)
	}
	var kv storage.KeyValue
	err := s.db.View(func(tx *bbolt.Tx) error {
		b, err := txBuckets(tx)
		if err != nil {
			return err
		}
		v := b.kv.Get([]byte(key))
		if v == nil {
			return storage.ErrNotFound
		}
		kv, err = decodeKV(key, v)
		return err
	})
	if err != nil {
		return storage.KeyValue{}, fmt.Errorf("bolt: get %q: %w", key, closedErr(err))
	}
	return kv, nil
}

// List returns every key starting with prefix, in key order, from one read transaction, and
// the revision that transaction saw. The keys and values of the result share two
// allocations, sized by a first pass over the range, rather than one or two per key.
func (s *Store) List(ctx context.Context, prefix string) ([]storage.KeyValue, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("bolt: list %q: %w", prefix, err)
	}
	var (
		kvs []storage.KeyValue
		rev int64
	)
	err := s.db.View(func(tx *bbolt.Tx) error {
		b, err := txBuckets(tx)
		if err != nil {
			return err
		}
		if rev, err = getMetaInt(b.meta, metaRevision); err != nil {
			return err
		}
		p := []byte(prefix)
		c := b.kv.Cursor()

		// Pass 1: count keys and bytes.
		n, keyBytes, valueBytes := 0, 0, 0
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if len(v) < kvHeader {
				return fmt.Errorf("value of %q is %d bytes: %w", k, len(v), ErrCorrupt)
			}
			n, keyBytes, valueBytes = n+1, keyBytes+len(k), valueBytes+len(v)-kvHeader
			if n%listCtxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}

		// Pass 2: copy into one key arena and one value arena.
		kvs = make([]storage.KeyValue, 0, n)
		keyEnds := make([]int, 0, n)
		var keys strings.Builder
		keys.Grow(keyBytes)
		values := make([]byte, 0, valueBytes)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p) && len(kvs) < n; k, v = c.Next() {
			keys.Write(k)
			keyEnds = append(keyEnds, keys.Len())
			start := len(values)
			values = append(values, v[kvHeader:]...)
			kvs = append(kvs, storage.KeyValue{
				Value:          values[start:len(values):len(values)],
				CreateRevision: int64(binary.BigEndian.Uint64(v[0:8])),
				ModRevision:    int64(binary.BigEndian.Uint64(v[8:16])),
			})
		}
		all, start := keys.String(), 0
		for i, end := range keyEnds {
			kvs[i].Key = all[start:end]
			start = end
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("bolt: list %q: %w", prefix, closedErr(err))
	}
	return kvs, rev, nil
}

// Revision returns the revision of the last committed write.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("bolt: revision: %w", err)
	}
	if s.isClosed() {
		return 0, fmt.Errorf("bolt: revision: %w", storage.ErrClosed)
	}
	return s.rev.Load(), nil
}
