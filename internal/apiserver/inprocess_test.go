package apiserver

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestLoopbackClientServesWatchesAndConcurrentWrites: the in-process transport keeps a watch
// open while concurrent requests are served, and each request gets its own answer, errors
// included.
func TestLoopbackClientServesWatchesAndConcurrentWrites(t *testing.T) {
	ts := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := kubernetes.NewForConfigOrDie(ts.srv.LoopbackConfig()).CoreV1().ConfigMaps("default")
	w, err := c.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("c%d", i)
			cm, err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			if err == nil && cm.Name != name {
				err = fmt.Errorf("created %s, answered %s", name, cm.Name)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c0"}}, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create of c0: %v, want AlreadyExists", err)
	}
	if err := c.Delete(ctx, "nope", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("delete of a missing object: %v, want NotFound", err)
	}
	seen := map[string]bool{}
	for len(seen) < n {
		select {
		case ev := <-w.ResultChan():
			seen[ev.Object.(*corev1.ConfigMap).Name] = true
		case <-ctx.Done():
			t.Fatalf("watch saw %d of %d creates", len(seen), n)
		}
	}
}
