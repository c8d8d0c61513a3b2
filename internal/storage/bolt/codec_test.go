package bolt

import (
	"errors"
	"reflect"
	"testing"

	"github.com/skiff-dev/skiff/internal/storage"
)

func TestEventRoundTrip(t *testing.T) {
	prev := &storage.KeyValue{Key: "/registry/pods/default/a", Value: []byte("old"), CreateRevision: 3, ModRevision: 5}
	tests := []struct {
		name string
		ev   storage.Event
	}{
		{"create", storage.Event{Type: storage.EventPut,
			KV: storage.KeyValue{Key: "/registry/pods/default/a", Value: []byte("new"), CreateRevision: 7, ModRevision: 7}}},
		{"create with empty value", storage.Event{Type: storage.EventPut,
			KV: storage.KeyValue{Key: "/k", Value: []byte{}, CreateRevision: 1, ModRevision: 1}}},
		{"update", storage.Event{Type: storage.EventPut, PrevKV: prev,
			KV: storage.KeyValue{Key: "/registry/pods/default/a", Value: []byte("new"), CreateRevision: 3, ModRevision: 7}}},
		{"update to empty value", storage.Event{Type: storage.EventPut, PrevKV: prev,
			KV: storage.KeyValue{Key: "/registry/pods/default/a", Value: []byte{}, CreateRevision: 3, ModRevision: 7}}},
		{"delete", storage.Event{Type: storage.EventDelete, PrevKV: prev,
			KV: storage.KeyValue{Key: "/registry/pods/default/a", Value: []byte("old"), CreateRevision: 3, ModRevision: 7}}},
		{"revisions beyond 32 bits", storage.Event{Type: storage.EventPut,
			PrevKV: &storage.KeyValue{Key: "/k", Value: []byte("v"), CreateRevision: 1 << 40, ModRevision: 1<<40 + 1},
			KV:     storage.KeyValue{Key: "/k", Value: []byte("w"), CreateRevision: 1 << 40, ModRevision: 1<<40 + 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := encodeEvent(tt.ev)
			got, err := decodeEvent(tt.ev.KV.ModRevision, v)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.ev) {
				t.Fatalf("decoded %+v, want %+v", got, tt.ev)
			}
			key, err := eventKey(v)
			if err != nil || string(key) != tt.ev.KV.Key {
				t.Fatalf("eventKey = %q, %v; want %q", key, err, tt.ev.KV.Key)
			}
		})
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good := encodeEvent(storage.Event{Type: storage.EventPut,
		KV: storage.KeyValue{Key: "/registry/pods/default/a", Value: []byte("value"), CreateRevision: 2, ModRevision: 2}})
	tests := []struct {
		name string
		v    []byte
	}{
		{"empty", nil},
		{"type only", good[:1]},
		{"key cut short", good[:6]},
		{"value cut short", good[:len(good)-2]},
		{"unknown type", append([]byte{9}, good[1:]...)},
		{"delete without previous value", append([]byte{logDelete}, good[1:]...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeEvent(2, tt.v); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeEvent: err = %v, want ErrCorrupt", err)
			}
		})
	}
	if _, err := decodeKV("/k", []byte{1, 2, 3}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("decodeKV of 3 bytes: err = %v, want ErrCorrupt", err)
	}
}
