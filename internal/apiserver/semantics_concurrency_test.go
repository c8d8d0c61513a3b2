package apiserver_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestConcurrentPatchesNeverConflict: a patch without a resourceVersion is a read-modify-write
// the server retries on its own conflicts, as kube-apiserver's GuaranteedUpdate does, so many
// clients patching one object all succeed and every change is kept.
func TestConcurrentPatchesNeverConflict(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	cms := s.client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shared"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const clients, patches = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients*patches)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range patches {
				patch := fmt.Sprintf(`{"data":{"c%d-p%d":"x"}}`, c, p)
				if _, err := cms.Patch(ctx, "shared", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed == 0 {
			t.Errorf("first failed patch: %v", err)
		}
		failed++
	}
	if failed > 0 {
		t.Errorf("%d of %d patches failed", failed, clients*patches)
	}
	cm, err := cms.Get(ctx, "shared", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cm.Data) != clients*patches {
		t.Errorf("%d keys kept, want %d", len(cm.Data), clients*patches)
	}
}
