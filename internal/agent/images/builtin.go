package images

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// builtin is an image served by the skiff binary itself (or, for busybox, by the host's tools).
type builtin struct {
	repo string   // normalized repository, e.g. "luksa/kubia" or "registry.k8s.io/pause"
	tags []string // the tags it answers to; with anyTag the ones List shows
	// anyTag: every tag and digest of repo resolves to it (the test images: each release of
	// upstream's behaves alike for what the stand-in does).
	anyTag     bool
	entrypoint []string // self stands for the skiff binary
	cmd        []string
	// programs are the image's own programs a container's command may name, each with the argv
	// that runs it (self for the skiff binary).
	programs map[string][]string
	env      []string
	created  time.Time
	idSeed   string // what, with the reference, makes the image's ID
}

// self marks, in a built-in's argv, where the skiff binary goes.
const self = "\x00self"

// KubiaAppCommand is the hidden skiff subcommand that runs the built-in kubia images' app.
const KubiaAppCommand = "kubia-app"

// TestImageCommand is the hidden skiff subcommand that runs the stand-ins of upstream's test
// images: `skiff test-image IMAGE ARGV0 [ARG...]`.
const TestImageCommand = "test-image"

// goEnv makes the skiff binary's small apps cheaper to start (50 start at once): one P and a
// lazier GC.
var goEnv = []string{"GOMAXPROCS=1", "GOGC=400"}

// builtins are the book's kubia images and the stand-ins of the images Kubernetes' own
// end-to-end tests run. luksa/kubia:vN and kubia:vN are the chapter 9 versions; luksa/kubia
// (latest) is chapter 2's "You've hit" app; luksa/kubia-unhealthy is chapter 4's app that fails
// from its sixth request on.
var builtins = func() []builtin {
	book := time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)
	kubia := func(repo, tag, variant string) builtin {
		return builtin{repo: repo, tags: []string{tag}, entrypoint: []string{self, KubiaAppCommand, "--variant", variant}, env: goEnv, created: book, idSeed: variant}
	}
	var out []builtin
	for _, v := range []string{"v1", "v2", "v3", "v4"} {
		out = append(out, kubia("luksa/kubia", v, v), kubia("kubia", v, v))
	}
	out = append(out, kubia("luksa/kubia", "latest", "hit"), kubia("kubia", "latest", "hit"),
		kubia("luksa/kubia-unhealthy", "latest", "unhealthy"))

	// testImage is a stand-in run as `skiff test-image name path`, path being the image's
	// entrypoint; programs are its other paths that run the same stand-in.
	testImage := func(repo string, tags []string, name, path string, programs ...string) builtin {
		b := builtin{repo: repo, tags: tags, anyTag: true, entrypoint: []string{self, TestImageCommand, name, path},
			programs: map[string][]string{}, env: goEnv, created: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), idSeed: name}
		for _, p := range append([]string{path}, programs...) {
			b.programs[p] = []string{self, TestImageCommand, name, p}
		}
		return b
	}
	for _, registry := range []string{"registry.k8s.io", "k8s.gcr.io"} {
		e2e := registry + "/e2e-test-images/"
		out = append(out,
			testImage(e2e+"agnhost", []string{"2.53", "2.56"}, "agnhost", "/agnhost", "agnhost", "/agnhost-2"),
			testImage(e2e+"httpd", []string{"2.4.38-4", "2.4.39-4"}, "httpd", "httpd-foreground", "httpd", "/usr/local/apache2/bin/httpd"),
			testImage(e2e+"nginx", []string{"1.14-4", "1.15-4"}, "nginx", "nginx", "/usr/sbin/nginx"),
			testImage(registry+"/pause", []string{"3.10"}, "pause", "/pause"),
			busybox(e2e+"busybox", "1.36.1-1"),
		)
	}
	return append(out,
		testImage("nginx", []string{"latest"}, "nginx", "nginx", "/usr/sbin/nginx"),
		testImage("httpd", []string{"latest"}, "httpd", "httpd-foreground", "httpd", "/usr/local/apache2/bin/httpd"),
		busybox("busybox", "latest"),
	)
}()

// busybox runs its container's command with the host's tools standing in for busybox's
// applets (sh, sleep, wget, echo, cat...); with no command it runs sh, as busybox does.
func busybox(repo, tag string) builtin {
	return builtin{repo: repo, tags: []string{tag}, anyTag: true, cmd: []string{"sh"},
		created: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), idSeed: "busybox"}
}

// splitRef splits a normalized reference into its repository and its tag or digest.
func splitRef(ref string) (repo, tag string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], ref[i:]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

func (b *builtin) matches(ref string) bool {
	repo, tag := splitRef(ref)
	return repo == b.repo && (b.anyTag || slices.Contains(b.tags, tag))
}

func (s *Store) builtin(ref string) (*Image, bool) {
	for i := range builtins {
		if b := &builtins[i]; b.matches(ref) {
			return s.image(b, ref), true
		}
	}
	return nil, false
}

// image is b as ref, with the skiff binary in its commands.
func (s *Store) image(b *builtin, ref string) *Image {
	withSelf := func(argv []string) []string {
		if argv == nil {
			return nil
		}
		out := slices.Clone(argv)
		for i, a := range out {
			if a == self {
				out[i] = s.Self
			}
		}
		return out
	}
	img := &Image{Ref: ref, Entrypoint: withSelf(b.entrypoint), Cmd: withSelf(b.cmd), Env: slices.Clone(b.env),
		Builtin: true, Created: b.created}
	if len(b.programs) > 0 {
		img.Programs = map[string][]string{}
		for p, argv := range b.programs {
			img.Programs[p] = withSelf(argv)
		}
	}
	sum := sha256.Sum256([]byte("skiff-builtin\x00" + ref + "\x00" + b.idSeed))
	img.ID = qualified(ref) + "@sha256:" + hex.EncodeToString(sum[:])
	return img
}

// qualified is ref's repository as a runtime reports it in imageID: with its registry,
// docker.io and library/ for Docker Hub's official images.
func qualified(ref string) string {
	repo, _ := splitRef(ref)
	first, _, hasSlash := strings.Cut(repo, "/")
	switch {
	case hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost"):
		return repo
	case !hasSlash:
		return "docker.io/library/" + repo
	}
	return "docker.io/" + repo
}

// listed are the built-in images List shows: each built-in with each of its listed tags.
func (s *Store) listed() []*Image {
	var out []*Image
	for i := range builtins {
		b := &builtins[i]
		for _, tag := range b.tags {
			out = append(out, s.image(b, b.repo+":"+tag))
		}
	}
	return out
}
