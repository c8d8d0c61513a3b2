package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestClientGoEverydayCalls drives a real server over HTTPS with client-go the way controllers
// and operators do: DeleteCollection by label selector, many clients patching one object at
// once, and an access review whose answer matches what the server then does.
func TestClientGoEverydayCalls(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--runtime", "none")
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 2000, 2000 // 50 clients share it; client-go's default 5/s would pace them
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cms := c.CoreV1().ConfigMaps("default")

	t.Run("DeleteCollection by label selector", func(t *testing.T) {
		for i, team := range []string{"a", "a", "b"} {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Labels: map[string]string{"team": team}}}
			if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		background := metav1.DeletePropagationBackground
		if err := cms.DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &background}, metav1.ListOptions{LabelSelector: "team=a"}); err != nil {
			t.Fatalf("DeleteCollection: %v", err)
		}
		left, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "team"})
		if err != nil {
			t.Fatal(err)
		}
		if len(left.Items) != 1 || left.Items[0].Labels["team"] != "b" {
			t.Errorf("left after deleting team=a: %v", left.Items)
		}
	})

	t.Run("50 clients x 20 patches of one object, no conflict", func(t *testing.T) {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shared"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		failed := 0
		for i := range 50 {
			wg.Go(func() {
				for j := range 20 {
					patch := fmt.Sprintf(`{"data":{"c%d-%d":"x"}}`, i, j)
					if _, err := cms.Patch(ctx, "shared", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
						mu.Lock()
						if failed == 0 {
							t.Errorf("first failure: %v", err)
						}
						failed++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		cm, err := cms.Get(ctx, "shared", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if failed > 0 || len(cm.Data) != 1000 {
			t.Errorf("%d patches failed, %d of 1000 changes kept", failed, len(cm.Data))
		}
	})

	t.Run("an access review matches what the server does", func(t *testing.T) {
		review, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: "kube-system", Verb: "create", Resource: "secrets"}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, createErr := c.CoreV1().Secrets("kube-system").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}}, metav1.CreateOptions{})
		if review.Status.Allowed != (createErr == nil) {
			t.Errorf("the review says allowed=%v, the create answered %v", review.Status.Allowed, createErr)
		}
	})
}
