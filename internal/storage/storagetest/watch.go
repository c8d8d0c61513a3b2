package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/skiff-dev/skiff/internal/storage"
)

func testWatchHistoryThenLive(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	const a, b, c = "/registry/pods/default/a", "/registry/pods/default/b", "/registry/pods/default/c"
	r1 := mustCreate(t, s, a, "a1")
	r2 := mustUpdate(t, s, a, "a2", r1)
	r3 := mustCreate(t, s, b, "b1")
	_, r4, err := s.Delete(ctx, a, r2)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}

	ch := mustWatch(t, ctx, s, "/registry/", r1)

	ev := recv(t, ch) // history
	wantEvent(t, ev, storage.EventPut, a, "a2", r1, r2)
	wantPrev(t, ev, "a1", r1, r1)
	ev = recv(t, ch)
	wantEvent(t, ev, storage.EventPut, b, "b1", r3, r3)
	wantPrev(t, ev, "", 0, 0)
	ev = recv(t, ch)
	wantEvent(t, ev, storage.EventDelete, a, "a2", r1, r4)
	wantPrev(t, ev, "a2", r1, r2)

	r5 := mustCreate(t, s, c, "c1") // live
	ev = recv(t, ch)
	wantEvent(t, ev, storage.EventPut, c, "c1", r5, r5)
	wantPrev(t, ev, "", 0, 0)
	r6 := mustUpdate(t, s, b, "b2", r3)
	ev = recv(t, ch)
	wantEvent(t, ev, storage.EventPut, b, "b2", r3, r6)
	wantPrev(t, ev, "b1", r3, r3)
	_, r7, err := s.Delete(ctx, c, 0)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	ev = recv(t, ch)
	wantEvent(t, ev, storage.EventDelete, c, "c1", r5, r7)
	wantPrev(t, ev, "c1", r5, r5)
}

func testWatchFromNow(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	mustCreate(t, s, "/registry/pods/default/old", "v")
	ch := mustWatch(t, ctx, s, "/registry/", 0)
	rev := mustCreate(t, s, "/registry/pods/default/new", "v")
	wantEvent(t, recv(t, ch), storage.EventPut, "/registry/pods/default/new", "v", rev, rev)
}

func testWatchFromCurrent(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	cur := mustCreate(t, s, "/registry/pods/default/old", "v")
	ch := mustWatch(t, ctx, s, "/registry/", cur)
	rev := mustCreate(t, s, "/registry/pods/default/new", "v")
	wantEvent(t, recv(t, ch), storage.EventPut, "/registry/pods/default/new", "v", rev, rev)
}

func testWatchPrefix(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	setup := mustCreate(t, s, "/registry/setup", "v")
	start := mustCreate(t, s, "/registry/pods/default/before", "v")
	ch := mustWatch(t, ctx, s, "/registry/pods/", setup) // sees "before" from history
	wantEvent(t, recv(t, ch), storage.EventPut, "/registry/pods/default/before", "v", start, start)

	mustCreate(t, s, "/registry/podsx/default/a", "v")
	mustCreate(t, s, "/registry/services/default/a", "v")
	mustCreate(t, s, "/registry/pods", "v")
	rev := mustCreate(t, s, "/registry/pods/default/a", "v")
	ev := recv(t, ch)
	wantEvent(t, ev, storage.EventPut, "/registry/pods/default/a", "v", rev, rev)

	// The same filter applies to history.
	again := mustWatch(t, ctx, s, "/registry/pods/", start)
	wantEvent(t, recv(t, again), storage.EventPut, "/registry/pods/default/a", "v", rev, rev)
}

func testWatchCompacted(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	var revs []int64
	for i := range 5 {
		revs = append(revs, mustCreate(t, s, fmt.Sprintf("/registry/pods/default/p%d", i), "v"))
	}
	if err := s.Compact(ctx, revs[2]); err != nil {
		t.Fatalf("Compact(%d): %v", revs[2], err)
	}
	if got := s.CompactedRevision(); got != revs[2] {
		t.Fatalf("CompactedRevision = %d, want %d", got, revs[2])
	}
	if _, err := s.Watch(ctx, "/registry/", revs[1]); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("Watch after %d, compacted to %d: err = %v, want ErrCompacted", revs[1], revs[2], err)
	}
	ch := mustWatch(t, ctx, s, "/registry/", revs[2])
	wantEvent(t, recv(t, ch), storage.EventPut, "/registry/pods/default/p3", "v", revs[3], revs[3])
	wantEvent(t, recv(t, ch), storage.EventPut, "/registry/pods/default/p4", "v", revs[4], revs[4])

	// Watching from now still works, and the compacted keys are still readable.
	live := mustWatch(t, ctx, s, "/registry/", 0)
	rev := mustCreate(t, s, "/registry/pods/default/p5", "v")
	wantEvent(t, recv(t, live), storage.EventPut, "/registry/pods/default/p5", "v", rev, rev)
	mustGet(t, s, "/registry/pods/default/p0")
}

func testCompactNoop(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	r1 := mustCreate(t, s, "/registry/pods/default/a", "v")
	r2 := mustCreate(t, s, "/registry/pods/default/b", "v")
	if got := s.CompactedRevision(); got != 0 {
		t.Fatalf("CompactedRevision of a new store = %d, want 0", got)
	}
	for _, rev := range []int64{r2, r1, r2} {
		if err := s.Compact(ctx, rev); err != nil {
			t.Fatalf("Compact(%d): %v", rev, err)
		}
		if got := s.CompactedRevision(); got != r2 {
			t.Fatalf("after Compact(%d), CompactedRevision = %d, want %d", rev, got, r2)
		}
	}
}

func testWatchCancel(t *testing.T, s storage.Store) {
	setup := mustCreate(t, s, "/registry/setup", "v")
	mustCreate(t, s, "/registry/pods/default/a", "v")
	ctx, cancel := context.WithCancel(ctxFor(t))
	ch := mustWatch(t, ctx, s, "/registry/", setup)
	cancel()
	waitClosed(t, ch)
	// The store is unaffected.
	mustCreate(t, s, "/registry/pods/default/b", "v")
}

func testClose(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	setup := mustCreate(t, s, "/registry/setup", "v")
	rev := mustCreate(t, s, "/registry/pods/default/a", "v")
	fromNow := mustWatch(t, ctx, s, "/registry/", 0)
	fromHistory := mustWatch(t, ctx, s, "/registry/", setup)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitClosed(t, fromNow)
	waitClosed(t, fromHistory)

	calls := []struct {
		name string
		do   func() error
	}{
		{"Create", func() error { _, err := s.Create(ctx, "/registry/pods/default/b", nil); return err }},
		{"Update", func() error { _, err := s.Update(ctx, "/registry/pods/default/a", nil, 0); return err }},
		{"Delete", func() error { _, _, err := s.Delete(ctx, "/registry/pods/default/a", 0); return err }},
		{"Get", func() error { _, err := s.Get(ctx, "/registry/pods/default/a"); return err }},
		{"List", func() error { _, _, err := s.List(ctx, "/registry/"); return err }},
		{"Revision", func() error { _, err := s.Revision(ctx); return err }},
		{"Watch", func() error { _, err := s.Watch(ctx, "/registry/", 0); return err }},
		{"Compact", func() error { return s.Compact(ctx, rev) }},
	}
	for _, c := range calls {
		if err := c.do(); !errors.Is(err, storage.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", c.name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// testConcurrentWriters runs writers in parallel with two watchers: one from before the
// first write, and one started midway from the same revision, so its history replay races
// live writes. Both must see every write exactly once, in revision order.
func testConcurrentWriters(t *testing.T, s storage.Store) {
	const writers, perWriter = 8, 25
	ctx := ctxFor(t)
	start := mustCreate(t, s, "/registry/setup", "v")
	early := mustWatch(t, ctx, s, "/registry/pods/", start)

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		revs = map[int64]string{} // revision -> key written at it
		errs = make(chan error, writers)
	)
	half := make(chan struct{})
	var halfOnce sync.Once
	for w := range writers {
		wg.Go(func() {
			last := int64(0)
			for i := range perWriter {
				key := fmt.Sprintf("/registry/pods/w%d/p%03d", w, i)
				rev, err := s.Create(ctx, key, []byte(key))
				if err != nil {
					errs <- fmt.Errorf("Create(%q): %w", key, err)
					return
				}
				if rev <= last {
					errs <- fmt.Errorf("writer %d: revision %d after %d", w, rev, last)
					return
				}
				last = rev
				mu.Lock()
				if other, dup := revs[rev]; dup {
					mu.Unlock()
					errs <- fmt.Errorf("revision %d returned for both %q and %q", rev, other, key)
					return
				}
				revs[rev] = key
				n := len(revs)
				mu.Unlock()
				if n == writers*perWriter/2 {
					halfOnce.Do(func() { close(half) })
				}
			}
		})
	}
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	select {
	case <-half:
	case <-finished: // a writer failed early; its error is reported below
	}
	late := mustWatch(t, ctx, s, "/registry/pods/", start)
	<-finished
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	watchers := []struct {
		name string
		ch   <-chan storage.Event
	}{{"early", early}, {"late", late}}
	for _, w := range watchers {
		last := start
		for range writers * perWriter {
			ev := recv(t, w.ch)
			rev := ev.KV.ModRevision
			if rev <= last {
				t.Fatalf("%s watcher: event at revision %d after %d (duplicate or out of order)", w.name, rev, last)
			}
			if revs[rev] != ev.KV.Key {
				t.Fatalf("%s watcher: event %q at revision %d, but that revision wrote %q", w.name, ev.KV.Key, rev, revs[rev])
			}
			last = rev
		}
	}
	// Nothing more: the next event is a marker written now.
	marker := mustCreate(t, s, "/registry/pods/marker", "m")
	for _, w := range watchers {
		if ev := recv(t, w.ch); ev.KV.ModRevision != marker {
			t.Fatalf("%s watcher: after all writes got event %q at %d, want the marker at %d", w.name, ev.KV.Key, ev.KV.ModRevision, marker)
		}
	}
}
