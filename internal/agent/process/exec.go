package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// maxExecOutput is how much of an exec's output is kept, as kubelets keep for probes.
const maxExecOutput = 10 * 1024

// ErrExecTimeout is returned by Exec when ctx ends before the command does.
var ErrExecTimeout = errors.New("process: command timed out")

// Exec runs argv in the container's environment and working directory, as a process group of its
// own, and returns its combined output (at most 10 KiB) and exit code. When ctx ends first the
// group is killed and ErrExecTimeout returned.
func (r *Runtime) Exec(ctx context.Context, id string, argv []string) ([]byte, int, error) {
	r.mu.Lock()
	c, ok := r.containers[id]
	r.mu.Unlock()
	if !ok {
		return nil, -1, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if len(argv) == 0 {
		return nil, -1, errors.New("process: exec: no command")
	}
	path, err := lookPath(argv[0], c.spec.Env, c.spec.Dir)
	if err != nil {
		return nil, -1, err
	}
	var out limitedBuffer
	cmd := &exec.Cmd{Path: path, Args: argv, Env: c.spec.Env, Dir: c.spec.Dir, Stdout: &out, Stderr: &out,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}, WaitDelay: time.Second}
	var startErr error
	if err := r.onSpawner(ctx, func() { startErr = cmd.Start() }); err != nil {
		return nil, -1, err
	}
	if startErr != nil {
		return nil, -1, fmt.Errorf("process: exec %q: %w", argv[0], startErr)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return out.Bytes(), -1, ErrExecTimeout
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever it left in its group
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return out.Bytes(), -1, err
	}
	return out.Bytes(), cmd.ProcessState.ExitCode(), nil
}

type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := maxExecOutput - b.Len(); room < len(p) {
		if room < 0 {
			room = 0
		}
		p = p[:room]
	}
	b.Buffer.Write(p)
	return n, nil
}
