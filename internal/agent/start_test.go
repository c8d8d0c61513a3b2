package agent

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

func TestContainerDir(t *testing.T) {
	tests := []struct {
		name                string
		imageDir, container string
		want                string
	}{
		{"a built-in image runs in the pod's directory", "", "", "/data/pods/uid"},
		{"an imported image runs in its files", "/images/app/rootfs", "", "/images/app/rootfs"},
		{"workingDir is inside an imported image's files", "/images/app/rootfs", "/srv", "/images/app/rootfs/srv"},
		{"workingDir of a built-in image is taken as is", "", "/tmp/work", "/tmp/work"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := containerDir("/data/pods/uid", tt.imageDir, tt.container); got != tt.want {
				t.Errorf("containerDir = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestWorkerKeepsTheCurrentAndPreviousLogs: each instance logs to <restart count>.log; the
// previous instance's log stays for logs --previous and older ones go.
func TestWorkerKeepsTheCurrentAndPreviousLogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pod := testPod("web", testContainer("app"))
		h.run(pod)
		for restart := 1; restart <= 2; restart++ {
			// The in-memory runtime writes no logs: write the instance's log in its stead.
			if err := os.WriteFile(h.running("app").Spec.LogPath, []byte("log\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			h.exit("app", 1)
			h.step(11 * time.Second) // past the back-off before the second restart
		}
		if got := h.running("app").Spec.LogPath; filepath.Base(got) != "2.log" {
			t.Errorf("third instance logs to %s, want 2.log", got)
		}
		entries, err := os.ReadDir(h.a.logDir(pod, "app"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, []string{"1.log"}) {
			t.Errorf("log directory holds %v, want only the previous instance's 1.log", names)
		}
		ref, _, ok := h.worker(pod).logRef("app")
		if !ok || ref.previous != filepath.Join(h.a.logDir(pod, "app"), "1.log") || ref.id != h.running("app").ID {
			t.Errorf("log ref %+v, want the running instance with 1.log as previous", ref)
		}
	})
}
