package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/skiff-dev/skiff/internal/storage"
)

// waitTimeout bounds every wait for an event or a closed channel. It only matters when a test
// fails, so it is generous.
const waitTimeout = 10 * time.Second

// NewStoreFunc returns a new, empty store. It arranges for the store to be closed with
// t.Cleanup; Close must accept being called a second time.
type NewStoreFunc func(t *testing.T) storage.Store

// Run runs the conformance suite, each case in its own subtest against its own store.
func Run(t *testing.T, newStore NewStoreFunc) {
	tests := []struct {
		name string
		run  func(t *testing.T, s storage.Store)
	}{
		{"create stores a new key", testCreate},
		{"create of an existing key is ErrExists", testCreateExists},
		{"get of a missing key is ErrNotFound", testGetNotFound},
		{"update with the current revision succeeds", testUpdateCAS},
		{"update with a stale revision is ErrConflict", testUpdateConflict},
		{"update of a missing key is ErrNotFound", testUpdateNotFound},
		{"update with revision 0 is unconditional", testUpdateUnconditional},
		{"delete with the current revision returns the deleted value", testDeleteCAS},
		{"delete with a stale revision is ErrConflict", testDeleteConflict},
		{"delete of a missing key is ErrNotFound", testDeleteNotFound},
		{"delete with revision 0 is unconditional", testDeleteUnconditional},
		{"a key created again after delete gets a new create revision", testRecreate},
		{"list returns keys under the prefix in key order and the revision", testList},
		{"list of an unused prefix is empty at the current revision", testListEmpty},
		{"revisions start at 0 and increase with every write", testRevisionMonotonic},
		{"refused writes do not change the revision", testRefusedWritesKeepRevision},
		{"writes with a cancelled context are not applied", testCancelledWrite},
		{"watch replays history then live events without gaps or duplicates", testWatchHistoryThenLive},
		{"watch from revision 0 starts at the current revision", testWatchFromNow},
		{"watch only sends keys under its prefix", testWatchPrefix},
		{"watch from the current revision sends only live events", testWatchFromCurrent},
		{"watch before the compacted revision is ErrCompacted", testWatchCompacted},
		{"compacting an older revision is a no-op", testCompactNoop},
		{"watch channel closes when its context is cancelled", testWatchCancel},
		{"close ends watches and refuses every call", testClose},
		{"concurrent writers get distinct revisions and watchers see each write once", testConcurrentWriters},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newStore(t))
		})
	}
}

// ctxFor returns a context that ends with the test.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustCreate(t *testing.T, s storage.Store, key, value string) int64 {
	t.Helper()
	rev, err := s.Create(ctxFor(t), key, []byte(value))
	if err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
	return rev
}

func mustUpdate(t *testing.T, s storage.Store, key, value string, expectedRev int64) int64 {
	t.Helper()
	rev, err := s.Update(ctxFor(t), key, []byte(value), expectedRev)
	if err != nil {
		t.Fatalf("Update(%q, %d): %v", key, expectedRev, err)
	}
	return rev
}

func mustGet(t *testing.T, s storage.Store, key string) storage.KeyValue {
	t.Helper()
	kv, err := s.Get(ctxFor(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return kv
}

func mustRevision(t *testing.T, s storage.Store) int64 {
	t.Helper()
	rev, err := s.Revision(ctxFor(t))
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	return rev
}

func mustWatch(t *testing.T, ctx context.Context, s storage.Store, prefix string, afterRev int64) <-chan storage.Event {
	t.Helper()
	ch, err := s.Watch(ctx, prefix, afterRev)
	if err != nil {
		t.Fatalf("Watch(%q, %d): %v", prefix, afterRev, err)
	}
	return ch
}

// recv returns the next event on ch, failing if ch closes or stays silent.
func recv(t *testing.T, ch <-chan storage.Event) storage.Event {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed, want an event")
		}
		return ev
	case <-timer.C:
		t.Fatalf("no watch event within %s", waitTimeout)
	}
	return storage.Event{}
}

// waitClosed drains ch until it is closed, failing if that takes too long.
func waitClosed(t *testing.T, ch <-chan storage.Event) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatalf("watch channel not closed within %s", waitTimeout)
		}
	}
}

// wantEvent checks the type, key, value and revisions of ev.
func wantEvent(t *testing.T, ev storage.Event, typ storage.EventType, key, value string, createRev, modRev int64) {
	t.Helper()
	if ev.Type != typ || ev.KV.Key != key || string(ev.KV.Value) != value ||
		ev.KV.CreateRevision != createRev || ev.KV.ModRevision != modRev {
		t.Fatalf("event = {type %d, %q=%q, create %d, mod %d}, want {type %d, %q=%q, create %d, mod %d}",
			ev.Type, ev.KV.Key, ev.KV.Value, ev.KV.CreateRevision, ev.KV.ModRevision,
			typ, key, value, createRev, modRev)
	}
}

// wantPrev checks ev.PrevKV; value "" with modRev 0 means no previous value.
func wantPrev(t *testing.T, ev storage.Event, value string, createRev, modRev int64) {
	t.Helper()
	if modRev == 0 {
		if ev.PrevKV != nil {
			t.Fatalf("event at %d: PrevKV = %+v, want nil", ev.KV.ModRevision, *ev.PrevKV)
		}
		return
	}
	if ev.PrevKV == nil {
		t.Fatalf("event at %d: PrevKV = nil, want value %q at %d", ev.KV.ModRevision, value, modRev)
	}
	p := ev.PrevKV
	if p.Key != ev.KV.Key || string(p.Value) != value || p.CreateRevision != createRev || p.ModRevision != modRev {
		t.Fatalf("event at %d: PrevKV = {%q=%q, create %d, mod %d}, want {%q=%q, create %d, mod %d}",
			ev.KV.ModRevision, p.Key, p.Value, p.CreateRevision, p.ModRevision, ev.KV.Key, value, createRev, modRev)
	}
}
