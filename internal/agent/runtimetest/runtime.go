package runtimetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"syscall"
	"time"

	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/internal/agent/logs"
	"github.com/skiff-dev/skiff/internal/agent/process"
)

// Runtime runs containers in memory. A container is named by its command (Argv[0]) in the
// methods tests use to steer it. The zero value is not usable; create it with New.
type Runtime struct {
	clock clock.Clock

	mu         sync.Mutex // guards the fields below
	next       int
	containers map[string]*container
	starts     []string         // container IDs in start order
	stops      []Stop           // in call order
	failStart  map[string]error // by command
	ignoreTerm map[string]bool  // by command
	exec       ExecFunc
}

// Container is what the runtime knows of one container instance.
type Container struct {
	ID    string
	Spec  process.Spec
	State process.State
}

// Stop is one call of Runtime.Stop.
type Stop struct {
	ID      string
	Command string
	Grace   time.Duration
}

// ExecFunc answers an exec in container c (probes and hooks): output, exit code, error.
type ExecFunc func(ctx context.Context, c Container, argv []string) ([]byte, int, error)

type container struct {
	Container
	exited  chan struct{} // closed when State is final
	removed bool
}

// New returns a runtime on clk: it stamps start and finish times and times grace periods.
func New(clk clock.Clock) *Runtime {
	return &Runtime{clock: clk, containers: map[string]*container{}, failStart: map[string]error{},
		ignoreTerm: map[string]bool{}}
}

// Start starts a container that runs until stopped or ended with Exit, unless FailStart set an
// error for its command.
func (r *Runtime) Start(_ context.Context, spec process.Spec) (string, error) {
	if len(spec.Argv) == 0 {
		return "", fmt.Errorf("runtimetest: no command given")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.failStart[spec.Argv[0]]; err != nil {
		return "", err
	}
	r.next++
	id := "c" + strconv.Itoa(r.next)
	r.containers[id] = &container{exited: make(chan struct{}), Container: Container{ID: id, Spec: spec,
		State: process.State{ID: id, PID: r.next, Running: true, StartedAt: r.clock.Now()}}}
	r.starts = append(r.starts, id)
	return id, nil
}

// Stop records the call and ends the container as the process runtime does: SIGTERM ends it
// (exit 143) unless IgnoreTerm was set for its command; then it is killed (exit 137) once grace
// has passed on the runtime's clock, or at once when ctx ends. A grace of 0 kills at once.
// Stop returns when the container has ended.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	r.mu.Lock()
	c, ok := r.containers[id]
	if !ok {
		r.mu.Unlock()
		return fmt.Errorf("%w: %s", process.ErrNotFound, id)
	}
	r.stops = append(r.stops, Stop{ID: id, Command: c.Spec.Argv[0], Grace: grace})
	ignore := r.ignoreTerm[c.Spec.Argv[0]]
	r.mu.Unlock()
	if grace > 0 && !ignore {
		r.end(c, 128+int(syscall.SIGTERM), syscall.SIGTERM)
		return nil
	}
	if grace > 0 {
		t := r.clock.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C():
		case <-ctx.Done():
		case <-c.exited:
		}
	}
	r.end(c, 128+int(syscall.SIGKILL), syscall.SIGKILL)
	return nil
}

// Exit ends the running container of command with exitCode, as if its process had exited.
func (r *Runtime) Exit(command string, exitCode int) error {
	r.mu.Lock()
	c := r.running(command)
	r.mu.Unlock()
	if c == nil {
		return fmt.Errorf("runtimetest: no running container of %q", command)
	}
	r.end(c, exitCode, 0)
	return nil
}

// end makes c's state final and calls its OnExit, as the process runtime does once.
func (r *Runtime) end(c *container, exitCode int, sig syscall.Signal) {
	r.mu.Lock()
	if !c.State.Running {
		r.mu.Unlock()
		return
	}
	st := &c.State
	st.Running, st.ExitCode, st.Signal, st.FinishedAt = false, exitCode, sig, r.clock.Now()
	st.Reason = "Error"
	if exitCode == 0 {
		st.Reason = "Completed"
	}
	close(c.exited)
	onExit := c.Spec.OnExit
	r.mu.Unlock()
	if onExit != nil {
		onExit()
	}
}

// State returns the container's state; false once it is removed or for an unknown ID.
func (r *Runtime) State(id string) (process.State, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok || c.removed {
		return process.State{}, false
	}
	return c.State, true
}

// Exec runs argv in a running container through the ExecFunc set with SetExec (by default it
// succeeds with no output).
func (r *Runtime) Exec(ctx context.Context, id string, argv []string) ([]byte, int, error) {
	r.mu.Lock()
	c, ok := r.containers[id]
	exec := r.exec
	var snap Container
	if ok {
		snap = c.Container
	}
	r.mu.Unlock()
	if !ok || !snap.State.Running {
		return nil, 0, fmt.Errorf("%w: %s", process.ErrNotFound, id)
	}
	if exec == nil {
		return nil, 0, nil
	}
	return exec(ctx, snap, argv)
}

// Remove forgets an exited container.
func (r *Runtime) Remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[id]; ok && !c.State.Running {
		c.removed = true
	}
}

// LogWriter returns nil: the runtime keeps no logs.
func (r *Runtime) LogWriter(string) *logs.Writer { return nil }

// FailStart makes starts of command fail with err from now on; a nil err lets them succeed.
func (r *Runtime) FailStart(command string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failStart[command] = err
}

// IgnoreTerm makes containers of command ignore SIGTERM from now on (see Stop).
func (r *Runtime) IgnoreTerm(command string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ignoreTerm[command] = true
}

// SetExec sets how Exec answers.
func (r *Runtime) SetExec(f ExecFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exec = f
}

// Starts returns every container started so far, in start order, with its current state.
func (r *Runtime) Starts() []Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Container, len(r.starts))
	for i, id := range r.starts {
		out[i] = r.containers[id].Container
	}
	return out
}

// Stops returns every Stop call so far, in call order.
func (r *Runtime) Stops() []Stop {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Stop(nil), r.stops...)
}

// Running returns the running container of command.
func (r *Runtime) Running(command string) (Container, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.running(command); c != nil {
		return c.Container, true
	}
	return Container{}, false
}

func (r *Runtime) running(command string) *container {
	for i := len(r.starts) - 1; i >= 0; i-- {
		if c := r.containers[r.starts[i]]; c.State.Running && c.Spec.Argv[0] == command {
			return c
		}
	}
	return nil
}
