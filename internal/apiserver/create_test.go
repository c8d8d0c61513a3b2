package apiserver

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestGeneratedNameThatIsTakenIsGeneratedAgain: a create whose generated name is taken gets
// another name, and the object stored under it carries that name.
func TestGeneratedNameThatIsTakenIsGeneratedAgain(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	pods := ts.client.CoreV1().Pods("default")
	suffixes := []string{"aaaaa", "aaaaa", "bbbbb"}
	ts.srv.nameSuffix = func() string {
		next := suffixes[0]
		suffixes = suffixes[1:]
		return next
	}
	pod := func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "kubia-"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
		}
	}
	first, err := pods.Create(ctx, pod(), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := pods.Create(ctx, pod(), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Name != "kubia-aaaaa" || second.Name != "kubia-bbbbb" {
		t.Fatalf("created %s and %s, want kubia-aaaaa and kubia-bbbbb", first.Name, second.Name)
	}
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]types.UID{}
	for _, p := range list.Items {
		got[p.Name] = p.UID
	}
	if len(got) != 2 || got[first.Name] != first.UID || got[second.Name] != second.UID {
		t.Errorf("stored pods %v, want %s=%s and %s=%s", got, first.Name, first.UID, second.Name, second.UID)
	}
}
