package bolt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/skiff-dev/skiff/internal/storage"
	"github.com/skiff-dev/skiff/internal/storage/storagetest"
)

// testLog writes the store's logs to the test log, so they show only for failing tests.
func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// openTest opens a store in a new temporary directory and closes it at the end of the test.
func openTest(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "skiff.db")
	if opts.Log == nil {
		opts.Log = testLog(t)
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, path
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, _ := openTest(t, Options{})
		return s
	})
}

func TestRevisionsStartAtOneAndStepByOne(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	for want := int64(1); want <= 5; want++ {
		rev, err := s.Create(ctx, fmt.Sprintf("/k/%d", want), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rev != want {
			t.Fatalf("write %d got revision %d", want, rev)
		}
	}
}

func TestReopenKeepsKeysAndRevisions(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "skiff.db")
	s, err := Open(path, Options{Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := s.Create(ctx, fmt.Sprintf("/registry/pods/default/p%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Compact(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, Options{Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rev, _ := s.Revision(ctx); rev != 10 {
		t.Fatalf("Revision after reopen = %d, want 10", rev)
	}
	if c := s.CompactedRevision(); c != 4 {
		t.Fatalf("CompactedRevision after reopen = %d, want 4", c)
	}
	kvs, _, err := s.List(ctx, "/registry/")
	if err != nil || len(kvs) != 10 {
		t.Fatalf("List after reopen = %d keys, %v; want 10", len(kvs), err)
	}
	if _, err := s.Watch(ctx, "/registry/", 3); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("Watch after 3 = %v, want ErrCompacted", err)
	}
	ch, err := s.Watch(ctx, "/registry/", 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []int64{9, 10} {
		if ev := <-ch; ev.KV.ModRevision != want {
			t.Fatalf("replayed event at %d, want %d", ev.KV.ModRevision, want)
		}
	}
	rev, err := s.Create(ctx, "/registry/pods/default/after", nil)
	if err != nil || rev != 11 {
		t.Fatalf("first write after reopen: revision %d, %v; want 11", rev, err)
	}
}

func TestSecondOpenFailsWhileLocked(t *testing.T) {
	_, path := openTest(t, Options{})
	start := time.Now()
	s, err := Open(path, Options{OpenTimeout: 50 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
	if !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second Open: err = %v, want it to say the file is locked", err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("second Open took %s: the lock timeout is not applied", waited)
	}
}

func TestInvalidKeys(t *testing.T) {
	s, _ := openTest(t, Options{})
	tests := []struct {
		name string
		key  string
	}{
		{"empty", ""},
		{"longer than bbolt allows", strings.Repeat("k", 32769)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Create(t.Context(), tt.key, nil); !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("Create: err = %v, want ErrInvalidKey", err)
			}
		})
	}
	if rev, _ := s.Revision(t.Context()); rev != 0 {
		t.Fatalf("refused writes moved the revision to %d", rev)
	}
}

func TestSlowWatcherIsDropped(t *testing.T) {
	const buffer = 8
	s, _ := openTest(t, Options{WatchBuffer: buffer})
	ctx := t.Context()
	slow, err := s.Watch(ctx, "/registry/", 0)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := s.Watch(ctx, "/registry/", 0)
	if err != nil {
		t.Fatal(err)
	}
	const writes = 5 * buffer
	// The fast watcher takes each event before the next write, so however the machine
	// schedules it, only the slow one, which reads nothing, falls behind.
	seen := make(chan struct{})
	go func() {
		for range fast {
			seen <- struct{}{}
		}
		close(seen)
	}()
	// Writes must not block on the slow watcher that reads nothing.
	for i := range writes {
		if _, err := s.Create(ctx, fmt.Sprintf("/registry/pods/default/p%d", i), nil); err != nil {
			t.Fatal(err)
		}
		select {
		case _, ok := <-seen:
			if !ok {
				t.Fatalf("fast watcher dropped after %d events, want all %d", i, writes)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("fast watcher did not get event %d", i+1)
		}
	}
	got := 0
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-slow:
			if !ok {
				if got >= writes {
					t.Fatalf("slow watcher got all %d events, want it dropped", got)
				}
				return
			}
			got++
		case <-deadline:
			t.Fatalf("slow watcher channel not closed after %d events", got)
		}
	}
}

func TestAutoCompaction(t *testing.T) {
	s, _ := openTest(t, Options{CompactInterval: 5 * time.Millisecond, HistoryKeep: 10})
	ctx := t.Context()
	var rev int64
	for i := range 50 {
		var err error
		if rev, err = s.Create(ctx, fmt.Sprintf("/registry/pods/default/p%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.CompactedRevision() != rev-10 || logEntries(t, s) != 10 {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s CompactedRevision = %d, want %d; log holds %d entries, want 10",
				s.CompactedRevision(), rev-10, logEntries(t, s))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := s.Watch(ctx, "/registry/", rev-11); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("Watch before the kept history: err = %v, want ErrCompacted", err)
	}
}

func TestCompactionAcrossChunks(t *testing.T) {
	s, _ := openTest(t, Options{CompactInterval: -1})
	const n = 2*compactChunk + 100
	rev := writeN(t, s, n, 10)
	if err := s.Compact(t.Context(), rev-5); err != nil {
		t.Fatal(err)
	}
	if got := logEntries(t, s); got != 5 {
		t.Fatalf("log holds %d entries after compaction, want 5", got)
	}
}

func TestWatchReplayAcrossChunks(t *testing.T) {
	s, _ := openTest(t, Options{CompactInterval: -1})
	ctx := t.Context()
	const n, writers = 3*replayChunk + 7, 16
	// Every third key is under the watched prefix, so chunks hold both kinds. Writes run in
	// parallel (group-committed) to keep the test quick; the revisions they get say what the
	// replay must send.
	var (
		mu      sync.Mutex
		podRevs []int64
	)
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := w; i < n; i += writers {
				prefix := "/registry/pods/"
				if i%3 != 0 {
					prefix = "/registry/services/"
				}
				rev, err := s.Create(ctx, fmt.Sprintf("%sdefault/o%d", prefix, i), nil)
				if err != nil {
					errs <- err
					return
				}
				if prefix == "/registry/pods/" && rev > 1 {
					mu.Lock()
					podRevs = append(podRevs, rev)
					mu.Unlock()
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(podRevs)

	ch, err := s.Watch(ctx, "/registry/pods/", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range podRevs {
		if ev := <-ch; ev.KV.ModRevision != want {
			t.Fatalf("replayed event at %d, want %d", ev.KV.ModRevision, want)
		}
	}
	live, err := s.Create(ctx, "/registry/pods/default/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-ch; ev.KV.ModRevision != live {
		t.Fatalf("after the replay got event at %d, want the live one at %d", ev.KV.ModRevision, live)
	}
}

// TestWatchClosedWhenHistoryCompactedMidReplay compacts away history a watcher has not
// replayed yet: the watcher cannot continue without a gap, so its channel must close.
func TestWatchClosedWhenHistoryCompactedMidReplay(t *testing.T) {
	s, _ := openTest(t, Options{CompactInterval: -1})
	ctx := t.Context()
	rev := writeN(t, s, 3*replayChunk, 10)
	ch, err := s.Watch(ctx, "/registry/", 1)
	if err != nil {
		t.Fatal(err)
	}
	<-ch // the replay has read its first chunk
	if err := s.Compact(ctx, rev-10); err != nil {
		t.Fatal(err)
	}
	got, last := 1, int64(0)
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				if got >= int(rev-1) {
					t.Fatalf("watcher received all %d events despite the compaction", got)
				}
				return
			}
			if ev.KV.ModRevision != last+1 && last != 0 {
				t.Fatalf("gap: event at %d after %d", ev.KV.ModRevision, last)
			}
			got, last = got+1, ev.KV.ModRevision
		case <-timeout:
			t.Fatalf("watch not closed after %d events", got)
		}
	}
}

// writeN creates n keys of size bytes with writers goroutines, so writes are group-committed,
// and returns the store revision afterwards.
func writeN(t testing.TB, s *Store, n, size int) int64 {
	t.Helper()
	const writers = 16
	ctx := context.Background()
	value := make([]byte, size)
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := w; i < n; i += writers {
				if _, err := s.Create(ctx, fmt.Sprintf("/registry/pods/default/p%06d", i), value); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	rev, _ := s.Revision(ctx)
	return rev
}

// logEntries counts the entries in the event log.
func logEntries(t testing.TB, s *Store) int {
	t.Helper()
	n := 0
	if err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket([]byte(bucketLog)).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
