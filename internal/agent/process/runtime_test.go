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

func waitExit(t *testing.T, r *Runtime, id string) State {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, ok := r.State(id)
		if ok && !st.Running {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s did not exit", id)
		}
		time.Sleep(5 * time.Millisecond)
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
	st := waitExit(t, r, id)
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
		{"exits on SIGTERM", "sleep 100 & wait", syscall.SIGTERM},
		{"ignores SIGTERM, gets SIGKILL", "trap '' TERM; while true; do sleep 0.05; done", syscall.SIGKILL},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := r.Start(context.Background(), Spec{Argv: []string{"sh", "-c", tt.script}, Env: []string{"PATH=" + os.Getenv("PATH")},
				Dir: dir, LogPath: filepath.Join(dir, tt.name[:4]+string(rune('a'+i))+".log")})
			if err != nil {
				t.Fatal(err)
			}
			st, _ := r.State(id)
			pgid := st.PID
			time.Sleep(100 * time.Millisecond) // let sh install its trap
			if err := r.Stop(context.Background(), id, 300*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			st = waitExit(t, r, id)
			if st.Signal != tt.wantSignal {
				t.Errorf("ended by %v (exit %d), want %v", st.Signal, st.ExitCode, tt.wantSignal)
			}
			deadline := time.Now().Add(5 * time.Second)
			for groupAlive(pgid) {
				if time.Now().After(deadline) {
					t.Fatalf("process group %d still has live members", pgid)
				}
				time.Sleep(10 * time.Millisecond)
			}
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
