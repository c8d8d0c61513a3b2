package apiserver

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// TestWatchersShareEncodingsCorrectly: watchers of one resource that differ in encoding, or
// in a selector that turns a change into ADDED or DELETED, each see their own events, although
// watchers asking for the same encoding of the same event share it.
func TestWatchersShareEncodingsCorrectly(t *testing.T) {
	ts := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	protoCfg := *ts.config
	protoCfg.ContentType = "application/vnd.kubernetes.protobuf"
	protoCfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf"
	clients := map[string]kubernetes.Interface{"json": ts.client, "protobuf": kubernetes.NewForConfigOrDie(&protoCfg)}

	list, err := ts.client.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// data is the object's data; "" leaves it unchecked (a watcher whose selector stops
	// matching gets DELETED, which is about the type, not the content).
	type seen struct{ typ, data string }
	watchers := []struct {
		name     string
		client   string
		selector string
		want     []seen
	}{
		{name: "json", client: "json", want: []seen{{"ADDED", "0"}, {"MODIFIED", "1"}, {"DELETED", "1"}}},
		{name: "second json", client: "json", want: []seen{{"ADDED", "0"}, {"MODIFIED", "1"}, {"DELETED", "1"}}},
		{name: "protobuf", client: "protobuf", want: []seen{{"ADDED", "0"}, {"MODIFIED", "1"}, {"DELETED", "1"}}},
		{name: "json, selecting the first version", client: "json", selector: "v=0", want: []seen{{"ADDED", "0"}, {"DELETED", ""}}},
		{name: "protobuf, selecting the second version", client: "protobuf", selector: "v=1", want: []seen{{"ADDED", "1"}, {"DELETED", ""}}},
	}
	streams := make([]watch.Interface, len(watchers))
	for i, w := range watchers {
		streams[i], err = clients[w.client].CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{
			ResourceVersion: list.ResourceVersion, LabelSelector: w.selector,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer streams[i].Stop()
	}

	cms := ts.client.CoreV1().ConfigMaps("default")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Labels: map[string]string{"v": "0"}}, Data: map[string]string{"k": "0"}}
	if cm, err = cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm.Labels["v"], cm.Data["k"] = "1", "1"
	if _, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	for i, w := range watchers {
		t.Run(w.name, func(t *testing.T) {
			for j, want := range w.want {
				select {
				case ev := <-streams[i].ResultChan():
					cm, ok := ev.Object.(*corev1.ConfigMap)
					if !ok {
						t.Fatalf("event %d: %s of %T", j, ev.Type, ev.Object)
					}
					got := seen{string(ev.Type), cm.Data["k"]}
					if want.data == "" {
						got.data = ""
					}
					if got != want {
						t.Errorf("event %d: %v, want %v", j, got, want)
					}
				case <-ctx.Done():
					t.Fatalf("timed out waiting for event %d (%v)", j, want)
				}
			}
		})
	}
}
