package process

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startSleeper starts a container that sleeps, with env, for exec tests.
func startSleeper(t *testing.T, r *Runtime, spec Spec) string {
	id, _ := startIn(t, r, spec)
	return id
}

// startIn is startSleeper that also returns the container's working directory.
func startIn(t *testing.T, r *Runtime, spec Spec) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if spec.Argv == nil {
		spec.Argv = []string{"sleep", "60"}
	}
	spec.Env = append(spec.Env, "PATH="+os.Getenv("PATH"))
	spec.Dir, spec.LogPath = dir, filepath.Join(dir, "0.log")
	id, err := r.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop(context.Background(), id, 0) })
	return id, dir
}

func TestExecStream(t *testing.T) {
	r := newRuntime(t)
	id, dir := startIn(t, r, Spec{Env: []string{"GREETING=hi"}})
	tests := []struct {
		name             string
		argv             []string
		stdin            string
		wantOut, wantErr string
		wantCode         int
	}{
		{name: "environment and working directory of the container", argv: []string{"sh", "-c", "echo $GREETING; pwd"},
			wantOut: "hi\n" + dir + "\n"},
		{name: "stdin to the end", argv: []string{"cat"}, stdin: "line 1\nline 2\n", wantOut: "line 1\nline 2\n"},
		{name: "stderr apart and the exit code", argv: []string{"sh", "-c", "echo oops >&2; exit 3"}, wantErr: "oops\n", wantCode: 3},
		{name: "killed by a signal reads 128+N", argv: []string{"sh", "-c", "kill -9 $$"}, wantCode: 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			s := Streams{Stdout: &out, Stderr: &errOut}
			if tt.stdin != "" {
				s.Stdin = strings.NewReader(tt.stdin)
			}
			code, err := r.ExecStream(context.Background(), id, tt.argv, s)
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || out.String() != tt.wantOut || errOut.String() != tt.wantErr {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out.String(), errOut.String(), tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}
}

func TestExecStreamCommandNotFound(t *testing.T) {
	r := newRuntime(t)
	id := startSleeper(t, r, Spec{})
	_, err := r.ExecStream(context.Background(), id, []string{"no-such-command-xyz"}, Streams{})
	if !errors.Is(err, ErrCommandNotFound) || !strings.Contains(err.Error(), `"no-such-command-xyz": executable file not found in $PATH`) {
		t.Errorf("err %v, want ErrCommandNotFound", err)
	}
	notExec := filepath.Join(t.TempDir(), "script")
	os.WriteFile(notExec, []byte("echo hi\n"), 0o644)
	if _, err := r.ExecStream(context.Background(), id, []string{notExec}, Streams{}); !errors.Is(err, ErrCommandNotExecutable) {
		t.Errorf("err %v, want ErrCommandNotExecutable", err)
	}
}

func TestExecStreamNotRunning(t *testing.T) {
	r := newRuntime(t)
	id := startSleeper(t, r, Spec{Argv: []string{"true"}})
	r.Stop(context.Background(), id, 0)
	if _, err := r.ExecStream(context.Background(), id, []string{"true"}, Streams{}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("err %v, want ErrNotRunning", err)
	}
	if _, err := r.ExecStream(context.Background(), "nope", []string{"true"}, Streams{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("err %v, want ErrNotFound", err)
	}
}

// TestExecStreamTTY: on a terminal the command sees a terminal of the size the client sent,
// and its output arrives through the terminal.
func TestExecStreamTTY(t *testing.T) {
	r := newRuntime(t)
	id := startSleeper(t, r, Spec{})
	sizes := make(chan TerminalSize, 1)
	sizes <- TerminalSize{Width: 101, Height: 31}
	close(sizes)
	var out syncBuffer
	// The size is applied concurrently with the start: wait for it before reading it.
	script := `i=0; while [ "$(stty size)" != "31 101" ] && [ $i -lt 200 ]; do sleep 0.01; i=$((i+1)); done; stty size; tty >/dev/null && echo on-a-tty`
	code, err := r.ExecStream(context.Background(), id, []string{"sh", "-c", script}, Streams{Stdout: &out, TTY: true, Resize: sizes})
	if err != nil || code != 0 {
		t.Fatalf("exit %d, err %v", code, err)
	}
	if got := out.String(); !strings.Contains(got, "31 101\r\n") || !strings.Contains(got, "on-a-tty") {
		t.Errorf("output %q", got)
	}
}

func TestExecStreamContextEnds(t *testing.T) {
	r := newRuntime(t)
	id := startSleeper(t, r, Spec{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := r.ExecStream(ctx, id, []string{"sleep", "30"}, Streams{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the context's", err)
	}
}

// TestAttach: an attached client gets what the container writes and feeds its stdin; a
// StdinOnce container's stdin closes when the first client's input ends.
func TestAttach(t *testing.T) {
	r := newRuntime(t)
	exited := make(chan struct{})
	id := startSleeper(t, r, Spec{Argv: []string{"sh", "-c", `while read l; do echo "got $l"; echo "err $l" >&2; done; echo bye`},
		Stdin: true, StdinOnce: true, OnExit: func() { close(exited) }})
	inR, inW := io.Pipe()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- r.Attach(context.Background(), id, Streams{Stdin: inR, Stdout: &out, Stderr: &errOut}) }()
	io.WriteString(inW, "one\n")
	eventually(t, 10*time.Second, func() bool { return out.String() == "got one\n" && errOut.String() == "err one\n" }, "waiting for the first line")
	io.WriteString(inW, "two\n")
	inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("attach did not end with the container")
	}
	<-exited
	if got := out.String(); got != "got one\ngot two\nbye\n" {
		t.Errorf("stdout %q", got)
	}
}

// TestAttachDetach: a client of a container that keeps its stdin open detaches when its input
// ends; the container runs on and the next client's input reaches it.
func TestAttachDetach(t *testing.T) {
	r := newRuntime(t)
	id := startSleeper(t, r, Spec{Argv: []string{"sh", "-c", `while read l; do echo "got $l"; done`}, Stdin: true})
	for _, line := range []string{"first", "second"} {
		var out syncBuffer
		inR, inW := io.Pipe()
		done := make(chan error, 1)
		go func() { done <- r.Attach(context.Background(), id, Streams{Stdin: inR, Stdout: &out}) }()
		io.WriteString(inW, line+"\n")
		eventually(t, 10*time.Second, func() bool { return out.String() == "got "+line+"\n" }, "waiting for "+line)
		inW.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("attach did not end with its input")
		}
		if st, _ := r.State(id); !st.Running {
			t.Fatal("container exited when a client detached")
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
