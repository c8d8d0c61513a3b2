package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// ErrCommandNotFound is returned by ExecStream for a command that is not in the container's
// PATH (or not at the path given); ErrCommandNotExecutable for one that cannot be executed.
var (
	ErrCommandNotFound      = errors.New("executable file not found in $PATH")
	ErrCommandNotExecutable = errors.New("permission denied")
)

// ErrNotRunning is returned for a container that has exited.
var ErrNotRunning = errors.New("process: container is not running")

// TerminalSize is a terminal's size in characters.
type TerminalSize struct {
	Width, Height uint16
}

// Streams are a client's ends of a command's or container's standard streams; nil ones are not
// connected. Resize, when set, carries the client's terminal size changes.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	Resize         <-chan TerminalSize
}

// ExecStream runs argv in the container's environment, working directory and process identity,
// as a process group (on a terminal: a session) of its own, connected to streams, and returns
// its exit code once it has exited and its output has been copied. When ctx ends first the
// group is killed. A command that cannot be found or executed returns ErrCommandNotFound or
// ErrCommandNotExecutable (wrapped) and nothing runs.
func (r *Runtime) ExecStream(ctx context.Context, id string, argv []string, s Streams) (int, error) {
	c, err := r.running(id)
	if err != nil {
		return -1, err
	}
	if len(argv) == 0 {
		return -1, errors.New("process: exec: no command")
	}
	path, err := lookPath(argv[0], c.spec.Env, c.spec.Dir)
	if err != nil {
		return -1, fmt.Errorf("exec: %q: %w", argv[0], ErrCommandNotFound)
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Env: c.spec.Env, Dir: c.spec.Dir,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: c.cmd.SysProcAttr.Credential},
		WaitDelay:   time.Second}
	var (
		copies sync.WaitGroup
		term   *os.File
		closeC []io.Closer // the child's ends, closed once it has started
	)
	if s.TTY {
		master, slave, err := pty.Open()
		if err != nil {
			return -1, fmt.Errorf("process: exec: open terminal: %w", err)
		}
		defer master.Close()
		term = master
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr.Setpgid, cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty = false, true, true
		closeC = append(closeC, slave)
		out := s.Stdout
		if out == nil {
			out = io.Discard // a terminal nobody reads would block the command
		}
		copies.Add(1)
		go func() { defer copies.Done(); _, _ = io.Copy(out, master) }()
	} else {
		if s.Stdout != nil {
			cmd.Stdout = s.Stdout
		}
		if s.Stderr != nil {
			cmd.Stderr = s.Stderr
		}
	}
	var stdinW io.WriteCloser
	if s.Stdin != nil && !s.TTY {
		pr, pw, err := os.Pipe()
		if err != nil {
			return -1, fmt.Errorf("process: exec: pipe: %w", err)
		}
		cmd.Stdin, stdinW = pr, pw
		closeC = append(closeC, pr)
	}
	var startErr error
	if err := r.onSpawner(ctx, func() { startErr = cmd.Start() }); err != nil {
		startErr = err
	}
	for _, f := range closeC {
		f.Close()
	}
	if startErr != nil {
		if stdinW != nil {
			stdinW.Close()
		}
		if errors.Is(startErr, os.ErrPermission) || errors.Is(startErr, syscall.ENOEXEC) {
			return -1, fmt.Errorf("exec: %q: %w", argv[0], ErrCommandNotExecutable)
		}
		if errors.Is(startErr, os.ErrNotExist) {
			return -1, fmt.Errorf("exec: %q: %w", argv[0], ErrCommandNotFound)
		}
		return -1, fmt.Errorf("process: exec %q: %w", argv[0], startErr)
	}
	pgid := cmd.Process.Pid
	switch {
	case s.Stdin != nil && s.TTY:
		go func() { _, _ = io.Copy(term, s.Stdin) }()
	case s.Stdin != nil:
		go func() { _, _ = io.Copy(stdinW, s.Stdin); stdinW.Close() }()
	}
	if term != nil && s.Resize != nil {
		go resizeTerminal(term, s.Resize)
	}

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
		err = ctx.Err()
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // whatever it left in its group
	if stdinW != nil {
		stdinW.Close()
	}
	copies.Wait() // a terminal reads EOF (EIO) once the last holder of its other end is gone
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && !errors.Is(err, exec.ErrWaitDelay) {
		return -1, err
	}
	return exitCode(cmd.ProcessState), nil
}

// exitCode is a process's exit code, 128+N when signal N ended it (as a shell reports it).
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func resizeTerminal(term *os.File, sizes <-chan TerminalSize) {
	for size := range sizes {
		if size.Width == 0 && size.Height == 0 {
			continue
		}
		_ = pty.Setsize(term, &pty.Winsize{Rows: size.Height, Cols: size.Width})
	}
}

// Attach connects streams to the running container's: output the container writes from now on
// is copied to s.Stdout and s.Stderr (on a terminal: all of it to s.Stdout), and s.Stdin to the
// container's stdin when it keeps one open. When s.Stdin ends, a StdinOnce container's stdin is
// closed and the attachment lasts until the container exits, so the client sees the rest of
// its output (kubectl run -i); any other container's stdin stays open for the next client and
// the attachment ends (the client detached). It also ends when the container exits, when
// writing to the client fails, or when ctx ends.
func (r *Runtime) Attach(ctx context.Context, id string, s Streams) error {
	c, err := r.running(id)
	if err != nil {
		return err
	}
	std := c.stdio
	a := std.add(s.Stdout, s.Stderr)
	defer std.remove(a)
	var detached chan struct{}
	if s.Stdin != nil && std.in != nil {
		detached = make(chan struct{})
		go func() {
			if std.copyIn(s.Stdin) {
				close(detached)
			}
		}()
	}
	if std.tty != nil && s.Resize != nil {
		go resizeTerminal(std.tty, s.Resize)
	}
	select {
	case <-c.exited:
	case <-a.failed:
	case <-detached:
	case <-ctx.Done():
	}
	return nil
}

// running returns the container id if it is running.
func (r *Runtime) running(id string) (*container, error) {
	r.mu.Lock()
	c, ok := r.containers[id]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	select {
	case <-c.exited:
		return nil, ErrNotRunning
	default:
	}
	return c, nil
}
