package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func cm(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": name}}
}

// TestRestartKeepsEverything kills the server with SIGKILL and checks every acknowledged object
// survives and resourceVersions keep increasing.
func TestRestartKeepsEverything(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := s.client()
	var lastRV int64
	for i := 0; i < 20; i++ {
		o, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm(fmt.Sprintf("c%d", i)), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lastRV, _ = strconv.ParseInt(o.ResourceVersion, 10, 64)
	}
	s.kill()
	s.start()
	c = s.client()
	list, err := c.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) < 20 {
		t.Fatalf("after kill -9 and restart: %d configmaps, want 20", len(list.Items))
	}
	o, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm("after"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rv, _ := strconv.ParseInt(o.ResourceVersion, 10, 64); rv <= lastRV {
		t.Fatalf("resourceVersion after restart %d is not above %d", rv, lastRV)
	}
}

// TestInformerAcrossRestart: a shared informer sees the initial list and every change in order;
// when the server restarts its watch resumes from a revision the new server's cache doesn't hold,
// gets 410 Gone, and relists.
func TestInformerAcrossRestart(t *testing.T) {
	port := freePort(t)
	s := startServer(t, "--port", strconv.Itoa(port))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := s.client()
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm("before"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	// only this test's ConfigMaps: the server publishes kube-root-ca.crt in every namespace
	ours := map[string]bool{"before": true, "live": true, "restarted": true}
	record := func(ev string) {
		if f := strings.Fields(ev); len(f) < 2 || !ours[strings.SplitN(f[1], "=", 2)[0]] {
			return
		}
		mu.Lock()
		seen = append(seen, ev)
		mu.Unlock()
	}
	has := func(ev string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range seen {
			if s == ev {
				return true
			}
		}
		return false
	}
	f := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace("default"))
	inf := f.Core().V1().ConfigMaps().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o interface{}) { record("add " + o.(*corev1.ConfigMap).Name) },
		UpdateFunc: func(_, o interface{}) {
			record("update " + o.(*corev1.ConfigMap).Name + "=" + o.(*corev1.ConfigMap).Data["k"])
		},
		DeleteFunc: func(o interface{}) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			record("delete " + o.(*corev1.ConfigMap).Name)
		},
	})
	f.Start(ctx.Done())
	eventually(t, 10*time.Second, "initial list", func() bool { return has("add before") })
	o, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm("live"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o.Data["k"] = "2"
	if _, err := c.CoreV1().ConfigMaps("default").Update(ctx, o, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.CoreV1().ConfigMaps("default").Delete(ctx, "live", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "live changes", func() bool { return has("delete live") })
	mu.Lock()
	order := strings.Join(seen, ",")
	mu.Unlock()
	if !strings.Contains(order, "add live,update live=2,delete live") {
		t.Fatalf("events out of order: %s", order)
	}

	s.stop()
	s.start()
	c = s.client()
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm("restarted"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "informer to relist after the restart", func() bool { return has("add restarted") })

	// a raw watch from a revision older than the new cache answers 410 with a Status body
	status := rawWatchStatus(t, s, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1")
	if status.Code != http.StatusGone || status.Reason != metav1.StatusReasonExpired {
		t.Fatalf("watch from compacted revision: %+v", status)
	}
}

// rawWatchStatus issues a watch with a plain HTTP client and decodes the Status it answers with
// (as the HTTP response, or as the first ERROR event).
func rawWatchStatus(t *testing.T, s *server, path string) metav1.Status {
	t.Helper()
	token, err := os.ReadFile(s.dataDir + "/token")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st metav1.Status
	if resp.StatusCode == http.StatusOK {
		var ev struct {
			Type   string        `json:"type"`
			Object metav1.Status `json:"object"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&ev); err != nil {
			t.Fatal(err)
		}
		return ev.Object
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}
