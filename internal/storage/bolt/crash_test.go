package bolt

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// crashChildEnv, when set to a file path, turns TestCrashRecovery into the child process:
// it writes to the store at that path until killed.
const crashChildEnv = "SKIFF_BOLT_CRASH_CHILD"

// TestCrashRecovery kills a process that is writing with SIGKILL, several times over, and
// checks after each kill that every write the child saw acknowledged is in the reopened
// store and that revisions keep increasing.
func TestCrashRecovery(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		runCrashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "skiff.db")
	acked := map[string]int64{} // key -> revision of its acknowledged write
	var lastRev int64
	for round := range 3 {
		got := runAndKill(t, path, round, 150+100*round)
		if len(got) == 0 {
			t.Fatalf("round %d: child acknowledged no writes", round)
		}
		for key, rev := range got {
			if rev <= lastRev {
				t.Fatalf("round %d: %q acknowledged at revision %d, not after the previous round's %d", round, key, rev, lastRev)
			}
			acked[key] = rev
		}

		s, err := Open(path, Options{Log: testLog(t), CompactInterval: -1})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		ctx := t.Context()
		for key, rev := range acked {
			kv, err := s.Get(ctx, key)
			if err != nil {
				t.Fatalf("round %d: acknowledged key %q: %v", round, key, err)
			}
			// A later write to the key may have committed without its acknowledgement
			// getting out before the kill, so the key may be newer, never older.
			if kv.ModRevision < rev {
				t.Fatalf("round %d: %q at revision %d, older than its acknowledged write at %d", round, key, kv.ModRevision, rev)
			}
		}
		kvs, cur, err := s.List(ctx, "/")
		if err != nil {
			t.Fatalf("round %d: List: %v", round, err)
		}
		// Writes that reached the disk but whose acknowledgement the kill cut off may also be there.
		if len(kvs) < len(acked) || cur < maxRev(got) {
			t.Fatalf("round %d: store has %d keys at revision %d; acknowledged %d keys up to %d", round, len(kvs), cur, len(acked), maxRev(got))
		}
		if err := checkLog(s, cur); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		rev, err := s.Create(ctx, fmt.Sprintf("/registry/after/%d", round), nil)
		if err != nil || rev != cur+1 {
			t.Fatalf("round %d: write after reopen: revision %d, %v; want %d", round, rev, err, cur+1)
		}
		lastRev = rev
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d keys acknowledged before the kill (up to revision %d), store at revision %d", round, len(got), maxRev(got), cur)
	}
}

// runAndKill runs the child writer on path, kills it with SIGKILL once it has acknowledged
// killAfter writes, and returns every acknowledgement it printed.
func runAndKill(t *testing.T, path string, round, killAfter int) map[string]int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$", "-test.v=false")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, "SKIFF_BOLT_CRASH_ROUND="+strconv.Itoa(round))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	got := map[string]int64{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		key, revText, ok := strings.Cut(strings.TrimPrefix(line, "ack "), " ")
		if !ok || !strings.HasPrefix(line, "ack ") {
			continue // test framework output
		}
		rev, err := strconv.ParseInt(revText, 10, 64)
		if err != nil {
			t.Fatalf("child printed %q: %v", line, err)
		}
		got[key] = rev
		if len(got) == killAfter && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
				t.Fatal(err)
			}
			killed = true
			// Keep reading: acknowledgements printed before the kill are still in the pipe.
		}
	}
	if !killed {
		t.Fatalf("child exited after %d acknowledgements without being killed", len(got))
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child exit: %v, want killed", err)
	}
	return got
}

// runCrashChild is the child process: several goroutines create and update keys in a
// loop and print "ack <key> <revision>" for each write once it returns. It stops by itself
// after a while in case the parent died without killing it.
func runCrashChild(path string) {
	s, err := Open(path, Options{Log: slog.New(slog.NewTextHandler(os.Stderr, nil)), CompactInterval: -1, OpenTimeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	round := os.Getenv("SKIFF_BOLT_CRASH_ROUND")
	value := make([]byte, 1024)
	var (
		mu sync.Mutex // serialises lines on stdout
		wg sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("/registry/pods/r%s/w%d/p%d", round, w, i)
				rev, err := s.Create(ctx, key, value)
				if err == nil && i > 0 {
					// Also update an earlier key, so updates are in flight at the kill too.
					prev := fmt.Sprintf("/registry/pods/r%s/w%d/p%d", round, w, i-1)
					var urev int64
					if urev, err = s.Update(ctx, prev, value, 0); err == nil {
						mu.Lock()
						fmt.Printf("ack %s %d\n", prev, urev)
						mu.Unlock()
					}
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					return
				}
				mu.Lock()
				fmt.Printf("ack %s %d\n", key, rev)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(3)
}

func maxRev(acked map[string]int64) int64 {
	var m int64
	for _, rev := range acked {
		m = max(m, rev)
	}
	return m
}

// checkLog checks that the event log holds exactly the revisions (compacted, cur] in order
// and that every entry decodes.
func checkLog(s *Store, cur int64) error {
	return s.db.View(func(tx *bbolt.Tx) error {
		want := s.CompactedRevision() + 1
		c := tx.Bucket([]byte(bucketLog)).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			rev, err := decodeRev(k)
			if err != nil {
				return err
			}
			if rev != want {
				return fmt.Errorf("event log has revision %d, want %d", rev, want)
			}
			if _, err := decodeEvent(rev, v); err != nil {
				return err
			}
			want++
		}
		if want != cur+1 {
			return fmt.Errorf("event log ends at %d, store revision is %d", want-1, cur)
		}
		return nil
	})
}
