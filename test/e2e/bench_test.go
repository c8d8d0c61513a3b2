package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// benchServer starts a server for a benchmark and returns it with the function that stops it
// (a benchmark may start and stop several).
func benchServer(b *testing.B, extra ...string) (*server, func()) {
	s := &server{t: b, dataDir: b.TempDir(), home: b.TempDir()}
	s.args = append([]string{"server", "--data-dir", s.dataDir, "--port", "0"}, ownNetwork(b, extra)...)
	s.start()
	b.Cleanup(s.stop)
	return s, s.stop
}

func benchClient(b *testing.B, s *server, contentType string) kubernetes.Interface {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, -1
	cfg.ContentType = contentType
	return kubernetes.NewForConfigOrDie(cfg)
}

func pct(samples []time.Duration, p int) float64 {
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	return float64(samples[len(samples)*p/100]) / float64(time.Millisecond)
}

func podFor(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "kubia"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nodejs", Image: "luksa/kubia:v1",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
	}
}

// BenchmarkLiveServerLoad drives a real `skiff server` process over HTTPS with client-go:
// sequential create/get/update latencies, 8 concurrent creators' throughput, and a JSON list
// of 1,000 pods.
func BenchmarkLiveServerLoad(b *testing.B) {
	s, stop := benchServer(b, "--runtime", "none")
	defer stop()
	ctx := context.Background()
	c := benchClient(b, s, "application/vnd.kubernetes.protobuf").CoreV1().Pods("default")
	measure := func(name string, n int, op func(i int) error) {
		b.Run(name, func(b *testing.B) {
			samples := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if err := op(i); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(start))
			}
			b.ReportMetric(pct(samples, 50), "p50-ms")
			b.ReportMetric(pct(samples, 99), "p99-ms")
		})
	}
	seq := 0
	measure("create", 0, func(i int) error {
		seq++
		_, err := c.Create(ctx, podFor(fmt.Sprintf("seq-%d", seq)), metav1.CreateOptions{})
		return err
	})
	measure("get", 0, func(i int) error { _, err := c.Get(ctx, "seq-1", metav1.GetOptions{}); return err })
	p, err := c.Get(ctx, "seq-1", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	measure("update", 0, func(i int) error {
		p.Labels["n"] = strconv.Itoa(i)
		p, err = c.Update(ctx, p, metav1.UpdateOptions{})
		return err
	})
	b.Run("create-8-clients", func(b *testing.B) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		samples := make([]time.Duration, 0, b.N)
		start := time.Now()
		next := make(chan int)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					t0 := time.Now()
					if _, err := c.Create(ctx, podFor(fmt.Sprintf("par-%d-%d", b.N, i)), metav1.CreateOptions{}); err != nil {
						panic(err)
					}
					mu.Lock()
					samples = append(samples, time.Since(t0))
					mu.Unlock()
				}
			}()
		}
		for i := 0; i < b.N; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "creates/s")
		b.ReportMetric(pct(samples, 50), "p50-ms")
		b.ReportMetric(pct(samples, 99), "p99-ms")
	})
	// top up to 1,000 pods, then list them as JSON (raw bytes, as a plain HTTP client would)
	l, err := c.List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for i := len(l.Items); i < 1000; i++ {
		if _, err := c.Create(ctx, podFor(fmt.Sprintf("fill-%d", i)), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	token, _ := os.ReadFile(s.dataDir + "/token")
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	measure("list-1000-pods-json", 0, func(int) error {
		req, _ := http.NewRequest("GET", s.url+"/api/v1/namespaces/default/pods?limit=1000", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		n, err := ioCount(resp)
		if err == nil && n < 1000*300 {
			err = fmt.Errorf("short list: %d bytes", n)
		}
		return err
	})
}

func ioCount(resp *http.Response) (int64, error) {
	var n int64
	buf := make([]byte, 64<<10)
	for {
		k, err := resp.Body.Read(buf)
		n += int64(k)
		if err != nil {
			if err.Error() == "EOF" {
				return n, nil
			}
			return n, err
		}
	}
}

// BenchmarkIdleRSS reports the resident memory of an idle server (with its embedded
// controllers) once it has settled.
func BenchmarkIdleRSS(b *testing.B) {
	for i := 0; i < b.N; i++ {
		s, stop := benchServer(b)
		var rss, prev int64
		deadline := time.Now().Add(10 * time.Second)
		sample := time.NewTicker(500 * time.Millisecond) // the measurement's sampling interval
		for time.Now().Before(deadline) {
			rss = rssKiB(s.cmd.Process.Pid)
			if rss == prev && rss > 0 {
				break
			}
			prev = rss
			<-sample.C
		}
		sample.Stop()
		stop()
		b.ReportMetric(float64(rss)/1024, "idle-RSS-MB")
	}
}

func rssKiB(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkReadyAfterRestart measures the time from starting the server process on an existing
// data directory to its first /readyz 200.
func BenchmarkReadyAfterRestart(b *testing.B) {
	s, stop := benchServer(b)
	port := strings.TrimPrefix(s.url[strings.LastIndex(s.url, ":"):], ":")
	stop()
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		cmd := exec.Command(skiffBin, "server", "--data-dir", s.dataDir, "--port", port)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sample := time.NewTicker(2 * time.Millisecond) // the measurement's resolution
		for {
			resp, err := hc.Get(s.url + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Since(start) > 30*time.Second {
				b.Fatal("not ready after 30s")
			}
			<-sample.C
		}
		total += time.Since(start)
		sample.Stop()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	}
	b.ReportMetric(float64(total)/float64(b.N)/float64(time.Millisecond), "ms-to-ready")
}
