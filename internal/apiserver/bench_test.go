package apiserver

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

func benchPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "kubia", "pod-template-hash": "74967b5695"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "nodejs", Image: "luksa/kubia:v1",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		}}},
	}
}

// reportLatencies adds p50 and p99 (in ms) of samples to b.
func reportLatencies(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(samples[len(samples)/2]), "p50-ms")
	b.ReportMetric(ms(samples[len(samples)*99/100]), "p99-ms")
}

func jsonClient(b *testing.B, ts *testServer) kubernetes.Interface {
	cfg := *ts.config
	cfg.ContentType = "application/json"
	return kubernetes.NewForConfigOrDie(&cfg)
}

// BenchmarkCreatePod: one client creating pods over HTTPS; every create is fsync'd before it is
// acknowledged.
func BenchmarkCreatePod(b *testing.B) {
	ts := newTestServer(&testing.T{})
	defer ts.https.Close()
	c := ts.client.CoreV1().Pods("default")
	ctx := context.Background()
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := c.Create(ctx, benchPod(fmt.Sprintf("p%d", i)), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	reportLatencies(b, samples)
}

func BenchmarkGetPod(b *testing.B) {
	ts := newTestServer(&testing.T{})
	defer ts.https.Close()
	c := ts.client.CoreV1().Pods("default")
	ctx := context.Background()
	if _, err := c.Create(ctx, benchPod("p"), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := c.Get(ctx, "p", metav1.GetOptions{}); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	reportLatencies(b, samples)
}

func BenchmarkUpdatePod(b *testing.B) {
	ts := newTestServer(&testing.T{})
	defer ts.https.Close()
	c := ts.client.CoreV1().Pods("default")
	ctx := context.Background()
	p, err := c.Create(ctx, benchPod("p"), metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Labels["i"] = fmt.Sprint(i)
		start := time.Now()
		if p, err = c.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	reportLatencies(b, samples)
}

// BenchmarkConfigMapWrites: one client creating ConfigMaps, and updating one, over HTTPS.
func BenchmarkConfigMapWrites(b *testing.B) {
	b.Run("create", func(b *testing.B) {
		ts := newTestServer(&testing.T{})
		defer ts.https.Close()
		c := ts.client.CoreV1().ConfigMaps("default")
		ctx := context.Background()
		samples := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c%d", i)}, Data: map[string]string{"a": "1", "b": "2"}}
			start := time.Now()
			if _, err := c.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
			samples = append(samples, time.Since(start))
		}
		reportLatencies(b, samples)
	})
	b.Run("update", func(b *testing.B) {
		ts := newTestServer(&testing.T{})
		defer ts.https.Close()
		c := ts.client.CoreV1().ConfigMaps("default")
		ctx := context.Background()
		cm, err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"a": "1"}}, metav1.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		samples := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			cm.Data["a"] = fmt.Sprint(i)
			start := time.Now()
			if cm, err = c.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
				b.Fatal(err)
			}
			samples = append(samples, time.Since(start))
		}
		reportLatencies(b, samples)
	})
}

// BenchmarkApplyVsMergePatch sends the same Deployment manifest, one label changed each time,
// as a server-side apply and as a JSON merge patch: what the field manager's merge costs over
// a merge patch, both recording managed fields.
func BenchmarkApplyVsMergePatch(b *testing.B) {
	manifest := func(i int) []byte {
		return []byte(fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"i":"%d"}},`+
			`"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},`+
			`"spec":{"containers":[{"name":"web","image":"luksa/kubia:v1","ports":[{"containerPort":8080}],`+
			`"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}}}}`, i))
	}
	for _, pt := range []types.PatchType{types.ApplyYAMLPatchType, types.MergePatchType} {
		name := map[types.PatchType]string{types.ApplyYAMLPatchType: "apply", types.MergePatchType: "merge-patch"}[pt]
		b.Run(name, func(b *testing.B) {
			ts := newTestServer(&testing.T{})
			defer ts.https.Close()
			c := ts.client.AppsV1().Deployments("default")
			ctx := context.Background()
			if _, err := c.Patch(ctx, "web", types.ApplyYAMLPatchType, manifest(b.N+1), metav1.PatchOptions{FieldManager: "bench"}); err != nil {
				b.Fatal(err)
			}
			samples := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := c.Patch(ctx, "web", pt, manifest(i), metav1.PatchOptions{FieldManager: "bench"}); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(start))
			}
			reportLatencies(b, samples)
		})
	}
}

// BenchmarkList1000PodsJSON lists 1,000 pods as JSON: the raw response as an HTTP client
// receives it ("raw"), and decoded into a PodList by client-go ("decoded").
func BenchmarkList1000PodsJSON(b *testing.B) {
	ts := newTestServer(&testing.T{})
	defer ts.https.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < 1000; i += 8 {
				if _, err := ts.client.CoreV1().Pods("default").Create(ctx, benchPod(fmt.Sprintf("p%04d", i)), metav1.CreateOptions{}); err != nil {
					panic(err)
				}
			}
		}(w)
	}
	wg.Wait()
	cs := jsonClient(b, ts)
	b.Run("raw", func(b *testing.B) {
		rc := cs.CoreV1().RESTClient()
		samples := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			start := time.Now()
			body, err := rc.Get().AbsPath("/api/v1/namespaces/default/pods").SetHeader("Accept", "application/json").DoRaw(ctx)
			if err != nil || len(body) < 1000*200 {
				b.Fatalf("list: %v (%d bytes)", err, len(body))
			}
			samples = append(samples, time.Since(start))
		}
		reportLatencies(b, samples)
	})
	b.Run("decoded", func(b *testing.B) {
		c := cs.CoreV1().Pods("default")
		samples := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			start := time.Now()
			l, err := c.List(ctx, metav1.ListOptions{})
			if err != nil || len(l.Items) != 1000 {
				b.Fatalf("list: %v (%d items)", err, len(l.Items))
			}
			samples = append(samples, time.Since(start))
		}
		reportLatencies(b, samples)
	})
}

// BenchmarkWatchFanOut100: one write, observed by 100 watchers; reports the time until the last
// watcher has the event.
func BenchmarkWatchFanOut100(b *testing.B) {
	ts := newTestServer(&testing.T{})
	defer ts.https.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := ts.client.CoreV1().ConfigMaps("default")
	list, err := c.List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	const watchers = 100
	chans := make([]<-chan struct{}, 0, watchers)
	got := make([]chan struct{}, watchers)
	for i := 0; i < watchers; i++ {
		w, err := c.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
		if err != nil {
			b.Fatal(err)
		}
		got[i] = make(chan struct{}, 1024)
		chans = append(chans, got[i])
		go func(ch chan struct{}) {
			for range w.ResultChan() {
				ch <- struct{}{}
			}
		}(got[i])
	}
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c%d", i)}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		for _, ch := range chans {
			<-ch
		}
		samples = append(samples, time.Since(start))
	}
	reportLatencies(b, samples)
}
