package apiserver_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
)

// TestMetadataWatchBookmarksArePartialObjectMetadata: on a watch for PartialObjectMetadata
// every event is one, bookmarks included, as kube-apiserver transforms every event; a bookmark
// of the full kind would not decode in the client (client-go's metadata informers, which the
// garbage collector and namespace controller use, would lose their watch).
func TestMetadataWatchBookmarksArePartialObjectMetadata(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if _, err := s.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client, err := metadata.NewForConfig(s.config)
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	w, err := client.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace("default").Watch(ctx, metav1.ListOptions{
		AllowWatchBookmarks: true, SendInitialEvents: &yes, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	timeout := time.After(requestTimeout)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch ended before its initial-events bookmark")
			}
			if _, isMeta := ev.Object.(*metav1.PartialObjectMetadata); !isMeta {
				t.Fatalf("%s event carries %T, want *PartialObjectMetadata: %v", ev.Type, ev.Object, ev.Object)
			}
			if ev.Type == watch.Bookmark {
				return
			}
		case <-timeout:
			t.Fatal("no bookmark within the request timeout")
		}
	}
}
