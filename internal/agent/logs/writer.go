package logs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// maxLine is the longest entry written as one line; longer output is split into partial ("P")
// entries, as CRI runtimes do.
const maxLine = 16 * 1024

// Writer appends timestamped entries to a log file, rotating it to path.1 when it grows past
// MaxSize. Readers following the file wait on Changed; Close marks the stream ended.
type Writer struct {
	path    string
	maxSize int64
	now     func() time.Time

	mu      sync.Mutex // guards the fields below
	f       *os.File
	size    int64
	changed chan struct{} // closed and replaced on every write
	closed  bool
	done    chan struct{} // closed by Close
}

// NewWriter opens (creating or appending to) the log file at path. maxSize <= 0 means 10 MiB.
func NewWriter(path string, maxSize int64, now func() time.Time) (*Writer, error) {
	if maxSize <= 0 {
		maxSize = 10 << 20
	}
	if now == nil {
		now = time.Now
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("logs: open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("logs: stat %s: %w", path, err)
	}
	return &Writer{path: path, maxSize: maxSize, now: now, f: f, size: st.Size(),
		changed: make(chan struct{}), done: make(chan struct{})}, nil
}

// Path is the file written.
func (w *Writer) Path() string { return w.path }

// Stream returns an io.WriteCloser for one stream ("stdout" or "stderr") that turns what is
// written into entries. Closing it flushes an unterminated last line.
func (w *Writer) Stream(name string) io.WriteCloser { return &stream{w: w, name: name} }

// Changed returns a channel closed at the next write or at Close.
func (w *Writer) Changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// Done is closed once the writer is closed: no more entries will come.
func (w *Writer) Done() <-chan struct{} { return w.done }

// Close closes the file and wakes followers.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	close(w.changed)
	close(w.done)
	return w.f.Close()
}

func (w *Writer) entry(stream string, partial bool, text []byte) error {
	tag := "F"
	if partial {
		tag = "P"
	}
	var b bytes.Buffer
	b.Grow(len(text) + 48)
	b.WriteString(w.now().UTC().Format(time.RFC3339Nano))
	b.WriteByte(' ')
	b.WriteString(stream)
	b.WriteByte(' ')
	b.WriteString(tag)
	b.WriteByte(' ')
	b.Write(text)
	b.WriteByte('\n')

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return os.ErrClosed
	}
	if w.size > 0 && w.size+int64(b.Len()) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(b.Bytes())
	w.size += int64(n)
	close(w.changed)
	w.changed = make(chan struct{})
	return err
}

// rotate keeps the current file as path.1 (dropping an older one) and starts a new one. path
// always names a file: the old one is hard-linked to path.1 and the new one renamed over path,
// so a reader opening path never finds it missing.
func (w *Writer) rotate() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("logs: rotate %s: %w", w.path, err)
	}
	os.Remove(w.path + ".1")
	if err := os.Link(w.path, w.path+".1"); err != nil {
		return fmt.Errorf("logs: rotate %s: %w", w.path, err)
	}
	tmp := w.path + ".new"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("logs: rotate %s: %w", w.path, err)
	}
	if err := os.Rename(tmp, w.path); err != nil {
		f.Close()
		return fmt.Errorf("logs: rotate %s: %w", w.path, err)
	}
	w.f, w.size = f, 0
	return nil
}

// stream splits one stream's bytes into entries.
type stream struct {
	w    *Writer
	name string
	buf  []byte // an unterminated line
}

func (s *stream) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.buf = append(s.buf, p...)
			for len(s.buf) >= maxLine {
				if err := s.w.entry(s.name, true, s.buf[:maxLine]); err != nil {
					return n, err
				}
				s.buf = append(s.buf[:0], s.buf[maxLine:]...)
			}
			return n, nil
		}
		line := p[:i]
		if len(s.buf) > 0 {
			line = append(s.buf, line...)
			s.buf = s.buf[:0]
		}
		for len(line) > maxLine {
			if err := s.w.entry(s.name, true, line[:maxLine]); err != nil {
				return n, err
			}
			line = line[maxLine:]
		}
		if err := s.w.entry(s.name, false, line); err != nil {
			return n, err
		}
		p = p[i+1:]
	}
	return n, nil
}

func (s *stream) Close() error {
	if len(s.buf) == 0 {
		return nil
	}
	err := s.w.entry(s.name, false, s.buf)
	s.buf = nil
	return err
}
