package images

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ErrNotFound is returned by Resolve for an image the store does not hold.
var ErrNotFound = errors.New("images: image not found")

// Image is a resolved image: what to run and where.
type Image struct {
	Ref        string   // normalized name:tag, e.g. "luksa/kubia:v1"
	ID         string   // "sha256:<hex>", stable for the image's content
	Entrypoint []string // default command; Cmd supplies default args
	Cmd        []string
	Env        []string // KEY=VALUE defaults
	Dir        string   // the image's files; the container's working directory. Empty for built-ins.
	Builtin    bool
	// Programs maps the image's own programs, as a container's command names them ("/agnhost"),
	// to the argv that runs each on this host. Only built-ins have them.
	Programs map[string][]string
	Created  time.Time
	Size     int64
}

// meta is what an imported image keeps next to its files, in image.json.
type meta struct {
	Ref        string    `json:"ref"`
	ID         string    `json:"id"`
	Entrypoint []string  `json:"entrypoint"`
	Cmd        []string  `json:"cmd,omitempty"`
	Env        []string  `json:"env,omitempty"`
	Created    time.Time `json:"created"`
	Size       int64     `json:"size"`
}

// Store resolves image references against built-in images and those imported under Root.
type Store struct {
	// Root holds imported images, one directory per image: Root/<escaped ref>/{image.json,rootfs/}.
	Root string
	// Self is the command that runs built-in images' apps: the skiff binary, e.g. os.Executable().
	Self string
}

// Normalize turns a reference into the store's form: no registry docker.io, no "library/"
// namespace, a tag ("latest" when none is given). A digest reference is kept as is.
func Normalize(ref string) string {
	r := strings.TrimSpace(ref)
	for _, p := range []string{"docker.io/", "index.docker.io/", "registry-1.docker.io/"} {
		r = strings.TrimPrefix(r, p)
	}
	r = strings.TrimPrefix(r, "library/")
	if strings.Contains(r, "@") {
		return r
	}
	slash := strings.LastIndex(r, "/")
	if !strings.Contains(r[slash+1:], ":") {
		r += ":latest"
	}
	return r
}

// Resolve finds ref among the built-in and imported images.
func (s *Store) Resolve(ref string) (*Image, error) {
	n := Normalize(ref)
	if img, ok := s.builtin(n); ok {
		return img, nil
	}
	if s.Root == "" {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, n)
	}
	dir := filepath.Join(s.Root, escape(n))
	data, err := os.ReadFile(filepath.Join(dir, "image.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, n)
	}
	if err != nil {
		return nil, fmt.Errorf("images: read %s: %w", n, err)
	}
	var m meta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("images: decode %s: %w", n, err)
	}
	return &Image{Ref: m.Ref, ID: m.ID, Entrypoint: m.Entrypoint, Cmd: m.Cmd, Env: m.Env,
		Dir: filepath.Join(dir, "rootfs"), Created: m.Created, Size: m.Size}, nil
}

// List returns the built-in images followed by the imported ones, sorted by reference.
func (s *Store) List() ([]*Image, error) {
	out := s.listed()
	if s.Root == "" {
		return out, nil
	}
	entries, err := os.ReadDir(s.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("images: list %s: %w", s.Root, err)
	}
	var imported []*Image
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		img, err := s.Resolve(unescape(e.Name()))
		if err != nil {
			continue // a half-written import; Import replaces it
		}
		imported = append(imported, img)
	}
	sort.Slice(imported, func(i, j int) bool { return imported[i].Ref < imported[j].Ref })
	return append(out, imported...), nil
}

// Import copies the files under src into the store as ref, to be run with entrypoint (and cmd
// as default arguments). An existing image of the same reference is replaced.
func (s *Store) Import(ref, src string, entrypoint, cmd, env []string, now time.Time) (*Image, error) {
	n := Normalize(ref)
	if _, ok := s.builtin(n); ok {
		return nil, fmt.Errorf("images: %s is a built-in image and cannot be replaced", n)
	}
	if len(entrypoint) == 0 && len(cmd) == 0 {
		return nil, fmt.Errorf("images: import %s: an entrypoint is required", n)
	}
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("images: import %s: %w", n, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("images: import %s: %s is not a directory", n, src)
	}
	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		return nil, fmt.Errorf("images: create store: %w", err)
	}
	tmp, err := os.MkdirTemp(s.Root, ".import-")
	if err != nil {
		return nil, fmt.Errorf("images: import %s: %w", n, err)
	}
	defer os.RemoveAll(tmp)
	h := sha256.New()
	size, err := copyTree(filepath.Join(tmp, "rootfs"), src, h)
	if err != nil {
		return nil, fmt.Errorf("images: import %s: copy files: %w", n, err)
	}
	fmt.Fprintf(h, "\x00%q\x00%q\x00%q", entrypoint, cmd, env)
	m := meta{Ref: n, ID: "sha256:" + hex.EncodeToString(h.Sum(nil)), Entrypoint: entrypoint, Cmd: cmd, Env: env, Created: now.UTC(), Size: size}
	data, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "image.json"), data, 0o644); err != nil {
		return nil, fmt.Errorf("images: import %s: %w", n, err)
	}
	dst := filepath.Join(s.Root, escape(n))
	old := dst + ".old"
	_ = os.RemoveAll(old)
	if err := os.Rename(dst, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("images: import %s: %w", n, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return nil, fmt.Errorf("images: import %s: %w", n, err)
	}
	_ = os.RemoveAll(old)
	return s.Resolve(n)
}

// Remove deletes an imported image.
func (s *Store) Remove(ref string) error {
	n := Normalize(ref)
	if _, ok := s.builtin(n); ok {
		return fmt.Errorf("images: %s is a built-in image", n)
	}
	dir := filepath.Join(s.Root, escape(n))
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("%w: %s", ErrNotFound, n)
	}
	return os.RemoveAll(dir)
}

// copyTree copies regular files, directories and symlinks from src to dst, hashing paths,
// modes and contents into h, and returns the bytes copied.
func copyTree(dst, src string, h io.Writer) (int64, error) {
	var total int64
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%o\x00", filepath.ToSlash(rel), info.Mode())
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			io.WriteString(h, link)
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			n, err := copyFile(target, path, info.Mode().Perm(), h)
			total += n
			return err
		}
		return nil // devices, sockets, pipes: skipped
	})
	return total, err
}

func copyFile(dst, src string, mode fs.FileMode, h io.Writer) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// escape makes a reference a single path element: "/" becomes "+", ":" becomes "@".
func escape(ref string) string {
	return strings.NewReplacer("/", "+", ":", "@").Replace(ref)
}

func unescape(name string) string {
	return strings.NewReplacer("+", "/", "@", ":").Replace(name)
}
