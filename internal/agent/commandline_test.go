package agent

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-dev/skiff/internal/agent/images"
)

// TestCommandLineOfTestImages: the stand-ins of upstream's test images run as the skiff binary's
// test-image subcommand whether the container gives args only (the image's entrypoint) or a
// command naming the image's program; busybox's commands are the host's.
func TestCommandLineOfTestImages(t *testing.T) {
	store := &images.Store{Self: "/skiff"}
	tests := []struct {
		name          string
		image         string
		command, args []string
		want          []string
	}{
		{"agnhost args select the mode", "registry.k8s.io/e2e-test-images/agnhost:2.53", nil, []string{"netexec", "--http-port=8080"},
			[]string{"/skiff", "test-image", "agnhost", "/agnhost", "netexec", "--http-port=8080"}},
		{"agnhost alone prints its help", "registry.k8s.io/e2e-test-images/agnhost:2.56", nil, nil,
			[]string{"/skiff", "test-image", "agnhost", "/agnhost"}},
		{"a command naming /agnhost runs the stand-in", "registry.k8s.io/e2e-test-images/agnhost:2.53", []string{"/agnhost", "serve-hostname"}, []string{"--port=80"},
			[]string{"/skiff", "test-image", "agnhost", "/agnhost", "serve-hostname", "--port=80"}},
		{"the image's second copy keeps its name", "registry.k8s.io/e2e-test-images/agnhost:2.53", []string{"/agnhost-2", "entrypoint-tester"}, nil,
			[]string{"/skiff", "test-image", "agnhost", "/agnhost-2", "entrypoint-tester"}},
		{"other commands are the host's", "registry.k8s.io/e2e-test-images/agnhost:2.53", []string{"/bin/sh", "-c", "echo hi"}, nil,
			[]string{"/bin/sh", "-c", "echo hi"}},
		{"busybox runs sh by default", "busybox", nil, nil, []string{"sh"}},
		{"busybox's command runs on the host", "registry.k8s.io/e2e-test-images/busybox:1.36.1-1", []string{"sh", "-c", "echo hi; sleep 3600"}, nil,
			[]string{"sh", "-c", "echo hi; sleep 3600"}},
		{"busybox args replace sh", "busybox:1.36", nil, []string{"sleep", "5"}, []string{"sleep", "5"}},
		{"httpd", "registry.k8s.io/e2e-test-images/httpd:2.4.38-4", nil, nil, []string{"/skiff", "test-image", "httpd", "httpd-foreground"}},
		{"nginx with its own command", "nginx:1.25", []string{"nginx", "-g", "daemon off;"}, nil,
			[]string{"/skiff", "test-image", "nginx", "nginx", "-g", "daemon off;"}},
		{"pause", "registry.k8s.io/pause:3.9", nil, nil, []string{"/skiff", "test-image", "pause", "/pause"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := store.Resolve(tt.image)
			if err != nil {
				t.Fatal(err)
			}
			c := &corev1.Container{Image: tt.image, Command: tt.command, Args: tt.args}
			if got := commandLine(c, img, envLookup(nil)); !slices.Equal(got, tt.want) {
				t.Errorf("argv %q, want %q", got, tt.want)
			}
		})
	}
}
