package process

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-dev/skiff/internal/agent/logs"
)

func newRuntime(t *testing.T) *Runtime {
	t.Helper()
	r, err := New(filepath.Join(t.TempDir(), "state"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// finalState returns the state of a container that has exited: after its OnExit call, or once
// Stop has returned, it must be final.
func finalState(t *testing.T, r *Runtime, id string) State {
	t.Helper()
	st, ok := r.State(id)
	if !ok || st.Running {
		t.Fatalf("container %s: state %+v (known: %v), want exited", id, st, ok)
	}
	return st
}

// waitForLog follows the container's log until a line reads want.
func waitForLog(t *testing.T, r *Runtime, id, path, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lw := &lineWaiter{want: want + "\n", found: cancel}
	if err := logs.Read(ctx, path, logs.Options{Tail: -1}, lw, r.LogWriter(id)); err != nil {
		t.Fatal(err)
	}
	if !lw.seen {
		t.Fatalf("log %s never read %q (got %q)", path, want, lw.buf.String())
	}
}

// lineWaiter collects what it is written and calls found once it has a line want.
type lineWaiter struct {
	want  string
	found func()
	buf   strings.Builder
	seen  bool
}

func (w *lineWaiter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if !w.seen && strings.Contains(w.buf.String(), w.want) {
		w.seen = true
		w.found()
	}
	return len(p), nil
}

// eventually waits until cond holds, checking it every 10ms, and fails the test after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("still %s after %v", what, timeout)
		case <-tick.C:
		}
	}
}

func TestStartLogsAndExit(t *testing.T) {
	r := newRuntime(t)
	dir := t.TempDir()
	exited := make(chan struct{})
	id, err := r.Start(context.Background(), Spec{
		Argv: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, Env: []string{"PATH=" + os.Getenv("PATH")},
		Dir: dir, LogPath: filepath.Join(dir, "0.log"), OnExit: func() { close(exited) },
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("OnExit not called")
	}
	st := finalState(t, r, id)
	if st.ExitCode != 3 || st.Reason != "Error" {
		t.Errorf("state %+v, want exit 3, Error", st)
	}
	var b strings.Builder
	if err := logs.Read(context.Background(), filepath.Join(dir, "0.log"), logs.Options{Tail: -1}, &b, nil); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); !strings.Contains(got, "out\n") || !strings.Contains(got, "err\n") {
		t.Errorf("log %q", got)
	}
}

func TestStartMissingCommand(t *testing.T) {
	r := newRuntime(t)
	dir := t.TempDir()
	_, err := r.Start(context.Background(), Spec{Argv: []string{"no-such-command-xyz"}, Env: []string{"PATH=/nonexistent"}, Dir: dir, LogPath: filepath.Join(dir, "0.log")})
	if err == nil || !strings.Contains(err.Error(), "executable file not found") {
		t.Errorf("err %v, want executable not found", err)
	}
}

// TestStopGraceThenKill: SIGTERM first; a process that ignores it is killed after the grace
// period, and the whole process group goes.
func TestStopGraceThenKill(t *testing.T) {
	r := newRuntime(t)
	dir := t.TempDir()
	tests := []struct {
		name       string
		script     string
		wantSignal syscall.Signal
	}{
		{"exits on SIGTERM", "sleep 100 & echo ready; wait", syscall.SIGTERM},
		{"ignores SIGTERM, gets SIGKILL", "trap '' TERM; echo ready; while true; do sleep 0.05; done", syscall.SIGKILL},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logPath := filepath.Join(dir, tt.name[:4]+string(rune('a'+i))+".log")
			id, err := r.Start(context.Background(), Spec{Argv: []string{"sh", "-c", tt.script}, Env: []string{"PATH=" + os.Getenv("PATH")},
				Dir: dir, LogPath: logPath})
			if err != nil {
				t.Fatal(err)
			}
			st, _ := r.State(id)
			pgid := st.PID
			waitForLog(t, r, id, logPath, "ready") // sh has set up its trap and its child
			if err := r.Stop(context.Background(), id, 300*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			st = finalState(t, r, id)
			if st.Signal != tt.wantSignal {
				t.Errorf("ended by %v (exit %d), want %v", st.Signal, st.ExitCode, tt.wantSignal)
			}
			eventually(t, 5*time.Second, func() bool { return !groupAlive(pgid) },
				fmt.Sprintf("live members in process group %d", pgid))
		})
	}
}

func TestExec(t *testing.T) {
	r := newRuntime(t)
	dir := t.TempDir()
	id, err := r.Start(context.Background(), Spec{Argv: []string{"sleep", "30"}, Env: []string{"PATH=" + os.Getenv("PATH"), "GREETING=hi"}, Dir: dir, LogPath: filepath.Join(dir, "0.log")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop(context.Background(), id, 0)
	out, code, err := r.Exec(context.Background(), id, []string{"sh", "-c", "echo $GREETING; exit 2"})
	if err != nil || code != 2 || string(out) != "hi\n" {
		t.Errorf("exec: %q %d %v", out, code, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, _, err := r.Exec(ctx, id, []string{"sleep", "10"}); err != ErrExecTimeout {
		t.Errorf("exec past its deadline: %v, want ErrExecTimeout", err)
	}
}

// groupAlive reports whether a process of group pgid is alive (zombies waiting for init to reap
// them do not count).
func groupAlive(pgid int) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 2 && f[2] == fmt.Sprint(pgid) && f[0] != "Z" {
			return true
		}
	}
	return false
}
