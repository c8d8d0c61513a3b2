package process

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"

	"github.com/creack/pty"

	"github.com/skiff-dev/skiff/internal/agent/logs"
)

// stdio is a container's standard streams: stdin, kept open for attachers when the spec asks
// for it, and stdout and stderr (or the container's terminal), which go to its log and to
// whoever is attached.
type stdio struct {
	stdinOnce bool
	tty       *os.File // the terminal's master side when the container has one

	// The child's ends, closed in the runtime once the child has started.
	childIn, childOut, childErr *os.File

	in         *os.File // where input for the container goes (nil: it has no stdin)
	outR, errR *os.File // its output

	mu       sync.Mutex // guards the fields below
	attached map[*attachment]struct{}
	inClosed bool
}

// attachment is one attached client's output.
type attachment struct {
	stdout, stderr io.Writer
	failed         chan struct{} // closed when a write to the client fails
}

// output is one of the container's output streams as its log names it.
type output struct {
	f      *os.File
	stream string
}

func newStdio(spec Spec) (*stdio, error) {
	s := &stdio{stdinOnce: spec.StdinOnce, attached: map[*attachment]struct{}{}}
	if spec.TTY {
		master, slave, err := pty.Open()
		if err != nil {
			return nil, fmt.Errorf("process: open terminal: %w", err)
		}
		s.tty, s.outR, s.childIn, s.childOut, s.childErr = master, master, slave, slave, slave
		if spec.Stdin {
			s.in = master
		}
		return s, nil
	}
	var err error
	if s.outR, s.childOut, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("process: pipe: %w", err)
	}
	if s.errR, s.childErr, err = os.Pipe(); err != nil {
		s.close()
		return nil, fmt.Errorf("process: pipe: %w", err)
	}
	if spec.Stdin {
		if s.childIn, s.in, err = os.Pipe(); err != nil {
			s.close()
			return nil, fmt.Errorf("process: pipe: %w", err)
		}
	}
	return s, nil
}

// connect gives cmd the child's ends; on a terminal the child leads a session of its own with
// the terminal as its controlling one.
func (s *stdio) connect(cmd *exec.Cmd) {
	if s.childIn != nil {
		cmd.Stdin = s.childIn
	}
	cmd.Stdout, cmd.Stderr = s.childOut, s.childErr
	if s.tty != nil {
		cmd.SysProcAttr.Setpgid = false
		cmd.SysProcAttr.Setsid = true
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
	}
}

// started closes the child's ends in this process.
func (s *stdio) started() {
	for _, f := range []*os.File{s.childIn, s.childOut, s.childErr} {
		if f != nil {
			f.Close()
		}
	}
	s.childIn, s.childOut, s.childErr = nil, nil, nil
}

func (s *stdio) outputs() []output {
	if s.tty != nil {
		return []output{{s.outR, "stdout"}}
	}
	return []output{{s.outR, "stdout"}, {s.errR, "stderr"}}
}

// copyOut copies one output stream to the log and to the attached clients until the stream
// ends (on a terminal: until the container and everything holding the terminal has gone).
func (s *stdio) copyOut(logw *logs.Writer, o output) {
	w := logw.Stream(o.stream)
	defer w.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := o.f.Read(buf)
		if n > 0 {
			_, _ = w.Write(buf[:n])
			s.broadcast(o.stream, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// broadcast writes p to every attached client; a client whose write fails is detached. The
// writes are synchronous, as the output's log write is: a client that stops reading holds the
// container's output back until its connection fails.
func (s *stdio) broadcast(stream string, p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a := range s.attached {
		w := a.stdout
		if stream == "stderr" {
			w = a.stderr
		}
		if w == nil {
			continue
		}
		if _, err := w.Write(p); err != nil {
			delete(s.attached, a)
			close(a.failed)
		}
	}
}

func (s *stdio) add(stdout, stderr io.Writer) *attachment {
	a := &attachment{stdout: stdout, stderr: stderr, failed: make(chan struct{})}
	if s.tty != nil {
		a.stderr = nil
	}
	s.mu.Lock()
	s.attached[a] = struct{}{}
	s.mu.Unlock()
	return a
}

func (s *stdio) remove(a *attachment) {
	s.mu.Lock()
	delete(s.attached, a)
	s.mu.Unlock()
}

// copyIn copies an attached client's input to the container until it ends. With stdinOnce the
// container's stdin is then closed (a terminal stays open: closing it would hang up the
// container) and copyIn reports false; otherwise it reports true: the client has detached.
func (s *stdio) copyIn(r io.Reader) (detached bool) {
	_, _ = io.Copy(s.in, r)
	if !s.stdinOnce {
		return true
	}
	if s.tty == nil {
		s.closeStdin()
	}
	return false
}

func (s *stdio) closeStdin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.inClosed && s.in != nil {
		s.in.Close()
	}
	s.inClosed = true
}

// close closes everything still open; the runtime calls it once the container has exited and
// its output is drained.
func (s *stdio) close() {
	s.started()
	if s.tty == nil {
		s.closeStdin()
	}
	for _, f := range []*os.File{s.outR, s.errR} {
		if f != nil {
			f.Close()
		}
	}
}
