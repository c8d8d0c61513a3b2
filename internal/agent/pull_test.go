package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// newEvents returns the events recorded since the last call.
func (h *harness) newEvents(from *int) []string {
	all := h.recorded()
	out := slices.Clone(all[*from:])
	*from = len(all)
	return out
}

func (h *harness) waiting(pod *corev1.Pod, name string) string {
	h.t.Helper()
	w := h.container(pod, name).State.Waiting
	if w == nil {
		return ""
	}
	return w.Reason + ": " + w.Message
}

// TestWorkerPullsAsTheKubelet: an image the node does not have fails to pull as on a kubelet:
// ErrImagePull with its events, ImagePullBackOff until the back-off (10 s, doubling) ends, a
// new attempt then; once the image is imported the next attempt starts the container.
func TestWorkerPullsAsTheKubelet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		const image = "example/app:v1"
		pod := testPod("web", testContainer("app", func(c *corev1.Container) { c.Image = image }))
		seen := 0
		h.run(pod)

		pulled := []string{
			`Normal Pulling Pulling image "example/app:v1"`,
			`Warning Failed Failed to pull image "example/app:v1": ` + pullMessage(image),
			`Warning Failed Error: ErrImagePull`,
		}
		backOff := []string{
			`Normal BackOff Back-off pulling image "example/app:v1"`,
			`Warning Failed Error: ImagePullBackOff`,
		}
		if got, want := h.waiting(pod, "app"), "ErrImagePull: "+pullMessage(image); got != want {
			t.Fatalf("waiting %q, want %q", got, want)
		}
		if got := h.newEvents(&seen); !slices.Equal(got, pulled) {
			t.Errorf("events of the first pull:\n%q\nwant\n%q", got, pulled)
		}

		h.step(pullErrorShown)
		if got, want := h.waiting(pod, "app"), `ImagePullBackOff: Back-off pulling image "example/app:v1": ErrImagePull: `+pullMessage(image); got != want {
			t.Fatalf("waiting %q, want %q", got, want)
		}
		if got := h.newEvents(&seen); !slices.Equal(got, backOff) {
			t.Errorf("events in the back-off:\n%q\nwant\n%q", got, backOff)
		}

		// The second attempt comes when the first back-off (10 s) ends, the third 20 s later.
		h.step(10*time.Second - pullErrorShown - 100*time.Millisecond)
		if got := h.waiting(pod, "app"); !strings.HasPrefix(got, reasonImagePullBackOff) {
			t.Fatalf("before 10 s: waiting %q, want ImagePullBackOff", got)
		}
		h.step(200 * time.Millisecond)
		if got := h.waiting(pod, "app"); !strings.HasPrefix(got, reasonErrImagePull) {
			t.Fatalf("after 10 s: waiting %q, want ErrImagePull (second attempt)", got)
		}
		if got := h.newEvents(&seen); !slices.Equal(got, pulled) {
			t.Errorf("events of the second pull:\n%q\nwant\n%q", got, pulled)
		}
		h.step(pullErrorShown)
		h.step(20*time.Second - pullErrorShown - 200*time.Millisecond)
		if got := h.waiting(pod, "app"); !strings.HasPrefix(got, reasonImagePullBackOff) {
			t.Fatalf("before the second back-off ends: waiting %q, want ImagePullBackOff", got)
		}
		h.step(300 * time.Millisecond)
		if got := h.waiting(pod, "app"); !strings.HasPrefix(got, reasonErrImagePull) {
			t.Fatalf("after 20 s more: waiting %q, want ErrImagePull (third attempt)", got)
		}
		if got := h.pod(pod).Status.Phase; got != corev1.PodPending {
			t.Errorf("phase %s, want Pending", got)
		}

		src := t.TempDir()
		if err := os.WriteFile(filepath.Join(src, "app"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := h.a.opts.Images.Import(image, src, []string{"./app"}, nil, nil, t0); err != nil {
			t.Fatal(err)
		}
		h.newEvents(&seen)
		h.step(41 * time.Second) // the third back-off (40 s) ends
		if cs := h.container(pod, "app"); cs.State.Running == nil {
			t.Fatalf("state %+v, want running once imported", cs.State)
		}
		started := []string{
			`Normal Pulled Container image "example/app:v1" already present on machine`,
			`Normal Created Created container: app`,
			`Normal Started Started container app`,
		}
		if got := h.newEvents(&seen); !slices.Equal(got, started) {
			t.Errorf("events of the start:\n%q\nwant\n%q", got, started)
		}
	})
}

// TestWorkerPullEventsNameTheTag: events of a pull of an untagged image name the tag pulled,
// ":latest", as the kubelet's do; "already present" names the image as the container does.
func TestWorkerPullEventsNameTheTag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pod := testPod("web", testContainer("app", func(c *corev1.Container) { c.Image = "example/app" }))
		h.run(pod)
		h.wantEvent(`Normal Pulling Pulling image "example/app:latest"`)
		h.wantEvent(`Warning Failed Failed to pull image "example/app:latest": `)
		h.step(pullErrorShown)
		h.wantEvent(`Normal BackOff Back-off pulling image "example/app:latest"`)

		busybox := testPod("bb", corev1.Container{Name: "sh", Image: "busybox", Command: []string{"sh"}})
		h.run(busybox)
		h.wantEvent(`Normal Pulled Container image "busybox" already present on machine`)
	})
}

// TestWorkerNeverPull: imagePullPolicy Never with an image the node lacks is ErrImageNeverPull,
// never a pull.
func TestWorkerNeverPull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pod := testPod("web", testContainer("app", func(c *corev1.Container) {
			c.Image, c.ImagePullPolicy = "example/app:v1", corev1.PullNever
		}))
		h.run(pod)
		msg := `Container image "example/app:v1" is not present with pull policy of Never`
		if got, want := h.waiting(pod, "app"), "ErrImageNeverPull: "+msg; got != want {
			t.Fatalf("waiting %q, want %q", got, want)
		}
		want := []string{"Warning ErrImageNeverPull " + msg, "Warning Failed Error: ErrImageNeverPull"}
		if got := h.recorded(); !slices.Equal(got, want) {
			t.Errorf("events %q, want %q", got, want)
		}
	})
}
