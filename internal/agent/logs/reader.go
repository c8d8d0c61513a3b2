package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// Options select what Read writes, as PodLogOptions do.
type Options struct {
	Since      time.Time // entries before it are skipped; zero: all
	Tail       int64     // only the last Tail lines; negative: all
	Timestamps bool      // prefix each line with its RFC3339Nano time
	LimitBytes int64     // stop after this many bytes; <= 0: no limit
}

// ErrLimit is returned (internally) when LimitBytes is reached.
var errLimit = errors.New("logs: byte limit reached")

type entry struct {
	ts      []byte
	t       time.Time
	partial bool
	text    []byte
}

func parseEntry(line []byte) (entry, bool) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return entry{}, false
	}
	_, rest, ok = bytes.Cut(rest, []byte{' '}) // stream
	if !ok {
		return entry{}, false
	}
	tag, text, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		tag, text = rest, nil
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return entry{}, false
	}
	return entry{ts: ts, t: t, partial: string(tag) == "P", text: text}, true
}

// out writes entries with the options' formatting and byte limit.
type out struct {
	w       io.Writer
	opts    Options
	written int64
}

func (o *out) write(e entry) error {
	var b []byte
	if o.opts.Timestamps {
		b = append(append(b, e.ts...), ' ')
	}
	b = append(b, e.text...)
	if !e.partial {
		b = append(b, '\n')
	}
	if o.opts.LimitBytes > 0 {
		left := o.opts.LimitBytes - o.written
		if int64(len(b)) >= left {
			n, err := o.w.Write(b[:left])
			o.written += int64(n)
			if err != nil {
				return err
			}
			return errLimit
		}
	}
	n, err := o.w.Write(b)
	o.written += int64(n)
	return err
}

func (o *out) flush() {
	if f, ok := o.w.(interface{ Flush() }); ok {
		f.Flush()
	}
}

// Read writes the log at path (after its rotated predecessor path.1) to w as opts select. With
// follow set it then keeps writing new entries until follow is closed and drained or ctx ends.
func Read(ctx context.Context, path string, opts Options, w io.Writer, follow *Writer) error {
	// The rotated file first, then the current one: a rotation in between skips entries but
	// never reorders them.
	old, oldErr := os.Open(path + ".1")
	if oldErr == nil {
		defer old.Close()
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("logs: open %s: %w", path, err)
	}
	defer func() { f.Close() }()
	// Mid-rotation path.1 is a hard link to the current file until the new one is renamed over
	// path: opened in that window, both name the same file, which must be read once.
	if oldErr == nil && sameFile(old, f) {
		oldErr = os.ErrNotExist
	}
	o := &out{w: w, opts: opts}

	// The changed channel is taken before reading, so a write after the read wakes us.
	var changed <-chan struct{}
	if follow != nil {
		changed = follow.Changed()
	}

	// Past entries: the rotated file, then the current one up to its end.
	var lines [][]entry // complete lines, only kept when tailing
	var cur []entry
	emit := func(e entry) error {
		if !opts.Since.IsZero() && e.t.Before(opts.Since) {
			return nil
		}
		if opts.Tail < 0 {
			return o.write(e)
		}
		cur = append(cur, e)
		if !e.partial {
			lines = append(lines, cur)
			cur = nil
			if int64(len(lines)) > opts.Tail {
				lines = lines[1:]
			}
		}
		return nil
	}
	if oldErr == nil {
		if err := newLineReader(old).scan(emit); err != nil {
			return finish(err)
		}
	}
	r := newLineReader(f)
	if err := r.scan(emit); err != nil {
		return finish(err)
	}
	if opts.Tail >= 0 {
		if len(cur) > 0 {
			lines = append(lines, cur)
		}
		for _, l := range lines {
			for _, e := range l {
				if err := o.write(e); err != nil {
					return finish(err)
				}
			}
		}
		opts.Tail = -1
		o.opts.Tail = -1
	}
	o.flush()
	if follow == nil {
		return nil
	}

	write := func(e entry) error {
		if !opts.Since.IsZero() && e.t.Before(opts.Since) {
			return nil
		}
		return o.write(e)
	}
	for {
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
		changed = follow.Changed()
		done := isClosed(follow.Done())
		if err := r.scan(write); err != nil {
			return finish(err)
		}
		if rotated(f, path) {
			// Drain what the old file still had, then go on with the new one.
			nf, err := os.Open(path)
			if err == nil {
				f.Close()
				f, r = nf, newLineReader(nf)
				if err := r.scan(write); err != nil {
					return finish(err)
				}
			}
		}
		o.flush()
		if done {
			return nil
		}
	}
}

func finish(err error) error {
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

// lineReader reads complete entries from a file that may still be growing: a last line without
// its newline is kept until the rest arrives.
type lineReader struct {
	r       *bufio.Reader
	pending []byte
}

func newLineReader(f io.Reader) *lineReader { return &lineReader{r: bufio.NewReaderSize(f, 64*1024)} }

// scan calls fn for each complete entry available now.
func (lr *lineReader) scan(fn func(entry) error) error {
	for {
		line, err := lr.r.ReadBytes('\n')
		if len(lr.pending) > 0 {
			line = append(lr.pending, line...)
			lr.pending = nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				lr.pending = line
				return nil
			}
			return err
		}
		if e, ok := parseEntry(line); ok {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// rotated reports whether path now names a different file than f.
func rotated(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	if err != nil {
		return false
	}
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Ino != sb.Ino
}

// sameFile reports whether a and b are open on the same file.
func sameFile(a, b *os.File) bool {
	sa, err := a.Stat()
	if err != nil {
		return false
	}
	sb, err := b.Stat()
	if err != nil {
		return false
	}
	return os.SameFile(sa, sb)
}
