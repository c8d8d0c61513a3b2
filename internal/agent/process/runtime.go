package process

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/skiff-dev/skiff/internal/agent/logs"
)

// Spec is a container to start.
type Spec struct {
	Argv    []string // Argv[0] is looked up in PATH (of Env) unless it contains a slash
	Env     []string // KEY=VALUE, the whole environment
	Dir     string   // working directory
	LogPath string   // where stdout and stderr go, in CRI log format
	// Stdin keeps the container's stdin open for attachers (a container's stdin: true); with
	// StdinOnce it is closed when the first attacher's input ends. TTY runs the container on a
	// terminal of its own: its output is the terminal's, logged as stdout.
	Stdin, StdinOnce, TTY bool
	// OnExit, if set, is called (from the runtime's goroutine) once the container has exited
	// and its state is final.
	OnExit func()
}

// State is what the runtime knows of a container.
type State struct {
	ID         string
	PID        int
	Running    bool
	StartedAt  time.Time
	FinishedAt time.Time
	ExitCode   int
	Signal     syscall.Signal // the signal that ended it, if any
	Reason     string         // when exited: "Completed" (exit 0) or "Error"
	Message    string
}

// ErrNotFound is returned for a container ID the runtime does not know.
var ErrNotFound = errors.New("process: no such container")

// Runtime runs containers as process groups. Create it with New and Close it when done.
type Runtime struct {
	dir string // state files: one <id>.json per running container
	log *slog.Logger
	now func() time.Time

	spawn chan func() // run on the spawner thread
	quit  chan struct{}
	wg    sync.WaitGroup // the spawner and every container's waiter

	mu         sync.Mutex // guards containers
	containers map[string]*container
}

type container struct {
	id     string
	cmd    *exec.Cmd
	spec   Spec
	logw   *logs.Writer
	exited chan struct{} // closed when state is final
	stdio  *stdio        // stdin and attached output

	mu    sync.Mutex // guards state
	state State
}

// stateFile is what survives an agent crash so the next agent can reap what is left.
type stateFile struct {
	PID       int   `json:"pid"`
	PGID      int   `json:"pgid"`
	StartTick int64 `json:"startTick"` // the leader's start time in clock ticks since boot
}

// New creates a runtime keeping its state files in dir and starts its spawner thread.
func New(dir string, log *slog.Logger) (*Runtime, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("process: create state dir: %w", err)
	}
	r := &Runtime{dir: dir, log: log.With("component", "runtime"), now: time.Now, spawn: make(chan func()), quit: make(chan struct{}),
		containers: map[string]*container{}}
	r.wg.Add(1)
	go r.spawner()
	return r, nil
}

// spawner runs every fork on one OS thread that exits only when the runtime closes: the kernel
// delivers PR_SET_PDEATHSIG when the thread that forked a child exits, not the process, so forks
// from Go's ordinary threads could kill children whenever the scheduler retires a thread.
func (r *Runtime) spawner() {
	defer r.wg.Done()
	runtime.LockOSThread()
	// No UnlockOSThread: when this goroutine returns the thread exits with it, which is what
	// Close wants for anything still alive.
	for {
		select {
		case f := <-r.spawn:
			f()
		case <-r.quit:
			return
		}
	}
}

// onSpawner runs f on the spawner thread and waits for it.
func (r *Runtime) onSpawner(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case r.spawn <- func() { f(); close(done) }:
	case <-r.quit:
		return errors.New("process: runtime closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Start starts a container and returns its ID. The error says why it could not start (for
// example a command that does not exist); nothing is left running then.
func (r *Runtime) Start(ctx context.Context, spec Spec) (string, error) {
	if len(spec.Argv) == 0 {
		return "", errors.New("process: no command given")
	}
	id := newID()
	path, err := lookPath(spec.Argv[0], spec.Env, spec.Dir)
	if err != nil {
		return "", err
	}
	logw, err := logs.NewWriter(spec.LogPath, 0, r.now)
	if err != nil {
		return "", err
	}
	std, err := newStdio(spec)
	if err != nil {
		logw.Close()
		return "", err
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        spec.Argv,
		Env:         spec.Env,
		Dir:         spec.Dir,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	std.connect(cmd)
	var startErr error
	if err := r.onSpawner(ctx, func() { startErr = cmd.Start() }); err != nil {
		startErr = err
	}
	std.started()
	if startErr != nil {
		std.close()
		logw.Close()
		return "", fmt.Errorf("process: start %q: %w", spec.Argv[0], startErr)
	}
	c := &container{id: id, cmd: cmd, spec: spec, logw: logw, exited: make(chan struct{}), stdio: std,
		state: State{ID: id, PID: cmd.Process.Pid, Running: true, StartedAt: r.now()}}
	r.writeState(id, cmd.Process.Pid)
	r.mu.Lock()
	r.containers[id] = c
	r.mu.Unlock()

	var copies sync.WaitGroup
	for _, o := range std.outputs() {
		copies.Add(1)
		go func() {
			defer copies.Done()
			std.copyOut(logw, o)
		}()
	}
	r.wg.Add(1)
	go r.wait(c, &copies)
	return id, nil
}

// wait reaps the container's leader, kills what is left of its process group, drains its output
// and publishes the final state.
func (r *Runtime) wait(c *container, copies *sync.WaitGroup) {
	defer r.wg.Done()
	err := c.cmd.Wait()
	finished := r.now()
	pid := c.cmd.Process.Pid
	// A container ends with its leader, as a pid namespace does with its init.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	drained := make(chan struct{})
	go func() { copies.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		r.log.Warn("container output still open after exit", "id", c.id)
	}
	c.logw.Close()
	c.stdio.close()
	os.Remove(filepath.Join(r.dir, c.id+".json"))

	c.mu.Lock()
	st := &c.state
	st.Running = false
	st.FinishedAt = finished
	st.ExitCode = c.cmd.ProcessState.ExitCode()
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		st.Signal = ws.Signal()
		st.ExitCode = 128 + int(ws.Signal())
	}
	switch {
	case st.ExitCode == 0:
		st.Reason = "Completed"
	default:
		st.Reason = "Error"
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		st.Message = err.Error()
	}
	c.mu.Unlock()
	close(c.exited)
	if c.spec.OnExit != nil {
		c.spec.OnExit()
	}
}

// State returns the container's state.
func (r *Runtime) State(id string) (State, bool) {
	r.mu.Lock()
	c, ok := r.containers[id]
	r.mu.Unlock()
	if !ok {
		return State{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, true
}

// Stop sends SIGTERM to the container's process group, waits up to grace for it to exit, then
// sends SIGKILL; it returns once the container has exited. Cancelling ctx skips the rest of the
// grace period (SIGKILL at once).
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	r.mu.Lock()
	c, ok := r.containers[id]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	select {
	case <-c.exited:
		return nil
	default:
	}
	pid := c.cmd.Process.Pid
	if grace > 0 {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-c.exited:
			return nil
		case <-t.C:
		case <-ctx.Done():
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-c.exited
	return nil
}

// LogWriter returns the log writer of a container the runtime still knows (followers wait on
// it), nil otherwise.
func (r *Runtime) LogWriter(id string) *logs.Writer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[id]; ok {
		return c.logw
	}
	return nil
}

// Remove forgets an exited container. Its log file stays.
func (r *Runtime) Remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[id]; ok {
		select {
		case <-c.exited:
			delete(r.containers, id)
		default:
		}
	}
}

// Close kills every container that is still running (SIGKILL; the caller stops them gracefully
// first if it wants to), waits for them, and stops the spawner thread.
func (r *Runtime) Close() {
	r.mu.Lock()
	var all []*container
	for _, c := range r.containers {
		all = append(all, c)
	}
	r.mu.Unlock()
	for _, c := range all {
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	}
	close(r.quit)
	r.wg.Wait()
}

func (r *Runtime) writeState(id string, pid int) {
	sf := stateFile{PID: pid, PGID: pid, StartTick: startTick(pid)}
	data, _ := json.Marshal(sf)
	if err := os.WriteFile(filepath.Join(r.dir, id+".json"), data, 0o600); err != nil {
		r.log.Warn("writing container state file", "id", id, "err", err)
	}
}

// lookPath resolves a command as a container would see it: relative to the working directory
// when it has a slash, else in the PATH of the container's environment.
func lookPath(name string, env []string, dir string) (string, error) {
	if filepath.IsAbs(name) {
		return name, nil
	}
	if filepath.Base(name) != name {
		return filepath.Join(dir, name), nil
	}
	path := os.Getenv("PATH")
	for _, kv := range env {
		if len(kv) > 5 && kv[:5] == "PATH=" {
			path = kv[5:]
		}
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("process: exec: %q: executable file not found in $PATH", name)
}
