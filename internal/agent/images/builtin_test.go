package images

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestResolveBuiltins(t *testing.T) {
	s := &Store{Self: "/skiff"}
	tests := []struct {
		ref        string
		entrypoint []string
		cmd        []string
		id         string // prefix of the image ID
	}{
		{"luksa/kubia:v2", []string{"/skiff", "kubia-app", "--variant", "v2"}, nil, "docker.io/luksa/kubia@sha256:"},
		{"kubia", []string{"/skiff", "kubia-app", "--variant", "hit"}, nil, "docker.io/library/kubia@sha256:"},
		{"registry.k8s.io/e2e-test-images/agnhost:2.53", []string{"/skiff", "test-image", "agnhost", "/agnhost"}, nil, "registry.k8s.io/e2e-test-images/agnhost@sha256:"},
		{"registry.k8s.io/e2e-test-images/agnhost:2.99", []string{"/skiff", "test-image", "agnhost", "/agnhost"}, nil, "registry.k8s.io/e2e-test-images/agnhost@sha256:"},
		{"k8s.gcr.io/e2e-test-images/agnhost:2.20", []string{"/skiff", "test-image", "agnhost", "/agnhost"}, nil, "k8s.gcr.io/e2e-test-images/agnhost@sha256:"},
		{"registry.k8s.io/e2e-test-images/httpd:2.4.39-4", []string{"/skiff", "test-image", "httpd", "httpd-foreground"}, nil, "registry.k8s.io/e2e-test-images/httpd@sha256:"},
		{"registry.k8s.io/e2e-test-images/nginx:1.14-4", []string{"/skiff", "test-image", "nginx", "nginx"}, nil, "registry.k8s.io/e2e-test-images/nginx@sha256:"},
		{"docker.io/library/nginx:1.25", []string{"/skiff", "test-image", "nginx", "nginx"}, nil, "docker.io/library/nginx@sha256:"},
		{"nginx", []string{"/skiff", "test-image", "nginx", "nginx"}, nil, "docker.io/library/nginx@sha256:"},
		{"httpd:2.4", []string{"/skiff", "test-image", "httpd", "httpd-foreground"}, nil, "docker.io/library/httpd@sha256:"},
		{"registry.k8s.io/pause:3.10", []string{"/skiff", "test-image", "pause", "/pause"}, nil, "registry.k8s.io/pause@sha256:"},
		{"registry.k8s.io/e2e-test-images/busybox:1.36.1-1", nil, []string{"sh"}, "registry.k8s.io/e2e-test-images/busybox@sha256:"},
		{"busybox:1.36", nil, []string{"sh"}, "docker.io/library/busybox@sha256:"},
		{"busybox@sha256:0123", nil, []string{"sh"}, "docker.io/library/busybox@sha256:"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			img, err := s.Resolve(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if !img.Builtin || !slices.Equal(img.Entrypoint, tt.entrypoint) || !slices.Equal(img.Cmd, tt.cmd) || !strings.HasPrefix(img.ID, tt.id) {
				t.Errorf("resolved to %+v, want entrypoint %q cmd %q ID %s…", img, tt.entrypoint, tt.cmd, tt.id)
			}
		})
	}
	for _, ref := range []string{"luksa/kubia:v9", "example/app", "registry.k8s.io/e2e-test-images/unknown:1.0", "agnhost:2.53"} {
		if _, err := s.Resolve(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Resolve(%q): %v, want ErrNotFound", ref, err)
		}
	}
}

func TestBuiltinPrograms(t *testing.T) {
	img, err := (&Store{Self: "/skiff"}).Resolve("registry.k8s.io/e2e-test-images/agnhost:2.56")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := img.Programs["/agnhost-2"], []string{"/skiff", "test-image", "agnhost", "/agnhost-2"}; !slices.Equal(got, want) {
		t.Errorf("/agnhost-2 runs %q, want %q", got, want)
	}
}

func TestListShowsEachBuiltinTag(t *testing.T) {
	list, err := (&Store{Self: "/skiff"}).List()
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, img := range list {
		refs = append(refs, img.Ref)
	}
	for _, want := range []string{"luksa/kubia:v1", "registry.k8s.io/e2e-test-images/agnhost:2.53", "registry.k8s.io/pause:3.10", "busybox:latest", "nginx:latest"} {
		if !slices.Contains(refs, want) {
			t.Errorf("List lacks %s: %q", want, refs)
		}
	}
}
