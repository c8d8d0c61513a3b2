package bolt

import (
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"
)

// File layout: three buckets.
//
//	kv:   key                      -> createRev(8) modRev(8) value
//	log:  revision (big-endian 8)  -> one event, see encodeEvent
//	meta: "schema", "revision", "compacted" -> big-endian uint64
//
// Every write transaction updates kv, appends to log and sets meta "revision" together, so the
// three always agree on disk.
const (
	bucketKV   = "kv"
	bucketLog  = "log"
	bucketMeta = "meta"

	metaSchema    = "schema"
	metaRevision  = "revision"
	metaCompacted = "compacted"
)

// buckets are the three buckets of one transaction.
type buckets struct {
	kv, log, meta *bbolt.Bucket
}

func txBuckets(tx *bbolt.Tx) (buckets, error) {
	b := buckets{
		kv:   tx.Bucket([]byte(bucketKV)),
		log:  tx.Bucket([]byte(bucketLog)),
		meta: tx.Bucket([]byte(bucketMeta)),
	}
	if b.kv == nil || b.log == nil || b.meta == nil {
		return buckets{}, fmt.Errorf("missing bucket: %w", ErrCorrupt)
	}
	return b, nil
}

// metaState is what the meta bucket records.
type metaState struct {
	rev       int64
	compacted int64
}

// initMeta creates the buckets of a new file, or checks those of an existing one, and returns
// the recorded revisions.
func initMeta(tx *bbolt.Tx) (metaState, error) {
	for _, name := range []string{bucketKV, bucketLog, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return metaState{}, fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	b, err := txBuckets(tx)
	if err != nil {
		return metaState{}, err
	}
	if b.meta.Get([]byte(metaSchema)) == nil {
		if k, _ := b.kv.Cursor().First(); k != nil {
			return metaState{}, fmt.Errorf("keys present but no schema version: %w", ErrCorrupt)
		}
		if err := putMetaInt(b.meta, metaSchema, schemaVersion); err != nil {
			return metaState{}, err
		}
	}
	schema, err := getMetaInt(b.meta, metaSchema)
	if err != nil {
		return metaState{}, err
	}
	if schema != schemaVersion {
		return metaState{}, fmt.Errorf("schema version %d, want %d: %w", schema, schemaVersion, ErrCorrupt)
	}
	var st metaState
	if st.rev, err = getMetaInt(b.meta, metaRevision); err != nil {
		return metaState{}, err
	}
	if st.compacted, err = getMetaInt(b.meta, metaCompacted); err != nil {
		return metaState{}, err
	}
	if k, _ := b.log.Cursor().Last(); k != nil {
		last, err := decodeRev(k)
		if err != nil {
			return metaState{}, err
		}
		if last > st.rev {
			return metaState{}, fmt.Errorf("event log at revision %d beyond store revision %d: %w", last, st.rev, ErrCorrupt)
		}
	}
	return st, nil
}

// getMetaInt reads a meta integer; a missing one reads as 0.
func getMetaInt(meta *bbolt.Bucket, name string) (int64, error) {
	v := meta.Get([]byte(name))
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("meta %s is %d bytes: %w", name, len(v), ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

func putMetaInt(meta *bbolt.Bucket, name string, v int64) error {
	if err := meta.Put([]byte(name), binary.BigEndian.AppendUint64(nil, uint64(v))); err != nil {
		return fmt.Errorf("put meta %s: %w", name, err)
	}
	return nil
}
