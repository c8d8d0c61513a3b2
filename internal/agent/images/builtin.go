package images

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// builtin is a demo image served by the skiff binary's hidden kubia-app subcommand.
type builtin struct {
	ref     string // normalized
	variant string // the app's --variant
}

// builtins are the book's kubia images. luksa/kubia:vN and kubia:vN are the chapter 9
// versions; luksa/kubia (latest) is chapter 2's "You've hit" app; luksa/kubia-unhealthy is
// chapter 4's app that fails from its sixth request on.
var builtins = func() []builtin {
	var out []builtin
	for _, v := range []string{"v1", "v2", "v3", "v4"} {
		out = append(out, builtin{"luksa/kubia:" + v, v}, builtin{"kubia:" + v, v})
	}
	return append(out,
		builtin{"luksa/kubia:latest", "hit"},
		builtin{"kubia:latest", "hit"},
		builtin{"luksa/kubia-unhealthy:latest", "unhealthy"},
	)
}()

// KubiaAppCommand is the hidden skiff subcommand that runs the built-in images' app.
const KubiaAppCommand = "kubia-app"

func (s *Store) builtin(ref string) (*Image, bool) {
	for _, b := range builtins {
		if b.ref != ref {
			continue
		}
		sum := sha256.Sum256([]byte("skiff-builtin\x00" + b.ref + "\x00" + b.variant))
		name, _, _ := strings.Cut(b.ref, ":")
		if !strings.Contains(name, "/") {
			name = "library/" + name
		}
		return &Image{
			Ref:        b.ref,
			ID:         "docker.io/" + name + "@sha256:" + hex.EncodeToString(sum[:]),
			Entrypoint: []string{s.Self, KubiaAppCommand, "--variant", b.variant},
			// A small app: one P and a lazier GC make its start-up cheaper (50 start at once).
			Env:     []string{"GOMAXPROCS=1", "GOGC=400"},
			Builtin: true,
			Created: time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC),
		}, true
	}
	return nil, false
}
