package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/skiff-dev/skiff/internal/storage"
)

// ErrCorrupt reports a record in the file that cannot be decoded.
var ErrCorrupt = errors.New("bolt: corrupt record")

// Event types as stored in the log.
const (
	logPut    byte = 1
	logDelete byte = 2
)

// kvHeader is the size of the revisions in front of a kv bucket value.
const kvHeader = 16

// encodeRev is the log key of a revision: big-endian, so bbolt orders the log by revision.
func encodeRev(rev int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(rev))
}

func decodeRev(k []byte) (int64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("log key of %d bytes: %w", len(k), ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(k)), nil
}

// encodeKV is the kv bucket value of kv: createRev(8) modRev(8) value.
func encodeKV(kv storage.KeyValue) []byte {
	buf := make([]byte, kvHeader, kvHeader+len(kv.Value))
	binary.BigEndian.PutUint64(buf[0:8], uint64(kv.CreateRevision))
	binary.BigEndian.PutUint64(buf[8:16], uint64(kv.ModRevision))
	return append(buf, kv.Value...)
}

// decodeKV decodes a kv bucket value. The value is copied: v belongs to bbolt's transaction.
func decodeKV(key string, v []byte) (storage.KeyValue, error) {
	if len(v) < kvHeader {
		return storage.KeyValue{}, fmt.Errorf("value of %q is %d bytes: %w", key, len(v), ErrCorrupt)
	}
	return storage.KeyValue{
		Key:            key,
		Value:          append([]byte{}, v[kvHeader:]...),
		CreateRevision: int64(binary.BigEndian.Uint64(v[0:8])),
		ModRevision:    int64(binary.BigEndian.Uint64(v[8:16])),
	}, nil
}

// encodeEvent is the log value of ev:
//
//	type(1) createRev(uvarint) prevModRev(uvarint, 0: none) len(key)(uvarint) key
//	len(value)(uvarint) value prevValue
//
// A put stores its new value and, for an update, the value it replaced; a delete stores only
// the value it removed. The revision of the event is the log key.
func encodeEvent(ev storage.Event) []byte {
	typ, createRev, value := logPut, ev.KV.CreateRevision, ev.KV.Value
	if ev.Type == storage.EventDelete {
		typ, value = logDelete, nil
	}
	var prevModRev int64
	var prevValue []byte
	if ev.PrevKV != nil {
		prevModRev, prevValue = ev.PrevKV.ModRevision, ev.PrevKV.Value
	}
	buf := make([]byte, 0, 1+4*binary.MaxVarintLen64+len(ev.KV.Key)+len(value)+len(prevValue))
	buf = append(buf, typ)
	buf = binary.AppendUvarint(buf, uint64(createRev))
	buf = binary.AppendUvarint(buf, uint64(prevModRev))
	buf = binary.AppendUvarint(buf, uint64(len(ev.KV.Key)))
	buf = append(buf, ev.KV.Key...)
	buf = binary.AppendUvarint(buf, uint64(len(value)))
	buf = append(buf, value...)
	return append(buf, prevValue...)
}

// eventKey returns the key of an encoded event without decoding the rest, so watch replay
// can filter by prefix cheaply. The result aliases v.
func eventKey(v []byte) ([]byte, error) {
	d := decoder{buf: v}
	d.byte()
	d.uvarint()
	d.uvarint()
	key := d.bytes()
	return key, d.err
}

// decodeEvent decodes the log value v of revision rev, copying out of v.
func decodeEvent(rev int64, v []byte) (storage.Event, error) {
	d := decoder{buf: v}
	typ := d.byte()
	createRev := int64(d.uvarint())
	prevModRev := int64(d.uvarint())
	key := string(d.bytes())
	value := d.bytes()
	prevValue := d.buf
	if d.err != nil {
		return storage.Event{}, fmt.Errorf("event at revision %d: %w", rev, d.err)
	}
	var prev *storage.KeyValue
	if prevModRev != 0 {
		prev = &storage.KeyValue{
			Key:            key,
			Value:          append([]byte{}, prevValue...),
			CreateRevision: createRev,
			ModRevision:    prevModRev,
		}
	}
	switch typ {
	case logPut:
		return storage.Event{
			Type:   storage.EventPut,
			KV:     storage.KeyValue{Key: key, Value: append([]byte{}, value...), CreateRevision: createRev, ModRevision: rev},
			PrevKV: prev,
		}, nil
	case logDelete:
		if prev == nil {
			return storage.Event{}, fmt.Errorf("delete at revision %d without previous value: %w", rev, ErrCorrupt)
		}
		return storage.Event{
			Type:   storage.EventDelete,
			KV:     storage.KeyValue{Key: key, Value: prev.Value, CreateRevision: createRev, ModRevision: rev},
			PrevKV: prev,
		}, nil
	default:
		return storage.Event{}, fmt.Errorf("event type %d at revision %d: %w", typ, rev, ErrCorrupt)
	}
}

// decoder reads the fields of an encoded event; the first malformed field sets err and
// makes every later read return zero.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.buf) < 1 {
		d.fail()
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.buf)) {
		d.fail()
		return nil
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = fmt.Errorf("truncated event: %w", ErrCorrupt)
	}
	d.buf = nil
}
