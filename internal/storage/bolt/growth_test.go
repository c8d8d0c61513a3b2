package bolt

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// TestFileSizeLevelsOff updates a constant set of keys over and over, compacting after each
// phase as auto-compaction would, and checks the file stops growing: bbolt reuses the pages
// that updates and compaction free.
func TestFileSizeLevelsOff(t *testing.T) {
	const (
		keys        = 100
		perPhase    = 1000 // updates per phase
		phases      = 8
		historyKeep = 500
		writers     = 16
	)
	s, path := openTest(t, Options{CompactInterval: -1})
	ctx := t.Context()
	value := make([]byte, 1536)
	for i := range keys {
		if _, err := s.Create(ctx, growthKey(i), value); err != nil {
			t.Fatal(err)
		}
	}

	sizes := make([]int64, phases)
	for phase := range phases {
		if err := updateAll(ctx, s, keys, perPhase, writers, value); err != nil {
			t.Fatal(err)
		}
		rev, _ := s.Revision(ctx)
		if err := s.Compact(ctx, rev-historyKeep); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		sizes[phase] = fi.Size()
	}
	t.Logf("file size after each phase of %d updates: %v", perPhase, sizes)
	// Phases 0-2 warm up (the log fills to its kept length, bbolt's file grows in steps);
	// after that the size must hold still.
	if last, warm := sizes[phases-1], sizes[2]; last > warm {
		t.Fatalf("file grew from %d to %d bytes over %d more phases of updates: %v", warm, last, phases-3, sizes)
	}
	if n := logEntries(t, s); n != historyKeep {
		t.Fatalf("log holds %d entries, want %d", n, historyKeep)
	}
}

func growthKey(i int) string { return fmt.Sprintf("/registry/pods/default/p%03d", i) }

// updateAll makes n unconditional updates spread over keys keys from writers goroutines.
func updateAll(ctx context.Context, s *Store, keys, n, writers int, value []byte) error {
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := w; i < n; i += writers {
				if _, err := s.Update(ctx, growthKey(i%keys), value, 0); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range writers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
