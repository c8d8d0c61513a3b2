package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The service tests run the chapter's kubia Deployment as real processes behind a NodePort
// Service on the test's own node IP, with a client sending one request per connection to
// NodeIP:30123 for the whole test (bounded in count and time), and count every failed request.

// svcNodePort is the chapter's nodePort.
const svcNodePort = 30123

// kubiaSpec describes the chapter's kubia Deployment variants.
type kubiaSpec struct {
	name           string // Deployment name (default kubia)
	version        string // image tag: v1, v2, v3, v4
	labels         string // extra pod labels, YAML flow style entries ("version: v1")
	replicas       int
	strategy       string // RollingUpdate (default) or Recreate
	maxSurge       string // "" for the default
	maxUnavailable string
	minReady       int
	readinessProbe bool // the chapter's httpGet probe every second
}

func (k kubiaSpec) yaml() string {
	if k.name == "" {
		k.name = "kubia"
	}
	if k.replicas == 0 {
		k.replicas = 3
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: %d\n", k.name, k.replicas)
	if k.minReady > 0 {
		fmt.Fprintf(&b, "  minReadySeconds: %d\n", k.minReady)
	}
	switch {
	case k.strategy == "Recreate":
		b.WriteString("  strategy:\n    type: Recreate\n")
	case k.maxSurge != "" || k.maxUnavailable != "":
		fmt.Fprintf(&b, "  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: %s\n      maxUnavailable: %s\n", k.maxSurge, k.maxUnavailable)
	}
	labels := "app: kubia"
	if k.labels != "" {
		labels += ", " + k.labels
	}
	fmt.Fprintf(&b, "  selector:\n    matchLabels: {%s}\n  template:\n    metadata:\n      labels: {%s}\n", labels, labels)
	fmt.Fprintf(&b, "    spec:\n      containers:\n      - name: nodejs\n        image: luksa/kubia:%s\n", k.version)
	if k.readinessProbe {
		b.WriteString("        readinessProbe:\n          periodSeconds: 1\n          httpGet:\n            path: /\n            port: 8080\n")
	}
	return b.String()
}

// kubiaService is the chapter's NodePort Service; selector is in YAML flow style.
func kubiaService(selector string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: kubia
spec:
  type: NodePort
  selector: {%s}
  ports:
  - port: 80
    targetPort: 8080
    nodePort: %d
`, selector, svcNodePort)
}

// svcEnv is a server with a process-runtime node, and the address of kubia's NodePort on it.
type svcEnv struct {
	t      *testing.T
	s      *server
	c      kubernetes.Interface
	k      kubectl
	target string // node IP:30123
}

func startSvcEnv(t *testing.T) *svcEnv {
	t.Helper()
	s, n := startAgentServer(t)
	return &svcEnv{t: t, s: s, c: s.client(), k: builtinKubectl(), target: net.JoinHostPort(n.nodeIP(1), fmt.Sprint(svcNodePort))}
}

func (e *svcEnv) kubectl(args ...string) string {
	e.t.Helper()
	return e.s.must(e.k, args...)
}

func (e *svcEnv) apply(manifest string) {
	e.t.Helper()
	if out, errOut, err := e.s.run(e.k, manifest, "apply", "-f", "-"); err != nil {
		e.t.Fatalf("kubectl apply: %v\n%s%s", err, out, errOut)
	}
}

// readyAddresses returns kubia's ready and not-ready endpoint pod names.
func (e *svcEnv) readyAddresses() (ready, notReady []string) {
	ep, err := e.c.CoreV1().Endpoints("default").Get(context.Background(), "kubia", metav1.GetOptions{})
	if err != nil {
		return nil, nil
	}
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			if a.TargetRef != nil {
				ready = append(ready, a.TargetRef.Name)
			}
		}
		for _, a := range ss.NotReadyAddresses {
			if a.TargetRef != nil {
				notReady = append(notReady, a.TargetRef.Name)
			}
		}
	}
	slices.Sort(ready)
	slices.Sort(notReady)
	return ready, notReady
}

// waitServed waits until n pods are ready endpoints of kubia and the NodePort answers. A server
// that never writes kubia's Endpoints has no endpoints controller: the test fails then.
func (e *svcEnv) waitServed(n int) {
	e.t.Helper()
	eventually(e.t, 20*time.Second, "kubia's Endpoints (is the endpoints controller running?)", func() bool {
		_, err := e.c.CoreV1().Endpoints("default").Get(context.Background(), "kubia", metav1.GetOptions{})
		return err == nil
	})
	eventually(e.t, 90*time.Second, fmt.Sprintf("%d ready kubia endpoints", n), func() bool {
		ready, _ := e.readyAddresses()
		return len(ready) == n
	})
	eventually(e.t, 10*time.Second, "the NodePort "+e.target+" answering", func() bool {
		code, _, err := httpGet(e.target)
		return err == nil && code == http.StatusOK
	})
}

// svcRequest is one request of the load: when it ran and what came back.
type svcRequest struct {
	start, end time.Time
	version    string // v1, v2, ... from "This is v2 running in pod ..."
	err        string // "" when the answer was 200 with a kubia body
}

// svcLoad sends GET requests to one address, one connection each, until stopped, at most max
// of them and for at most limit.
type svcLoad struct {
	mu   sync.Mutex // guards reqs
	reqs []svcRequest
	stop chan struct{}
	done chan struct{}
}

func startSvcLoad(t *testing.T, addr string, max int, limit time.Duration) *svcLoad {
	l := &svcLoad{stop: make(chan struct{}), done: make(chan struct{})}
	tr := &http.Transport{DisableKeepAlives: true}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	deadline := time.Now().Add(limit)
	go func() {
		defer close(l.done)
		defer tr.CloseIdleConnections()
		for range max {
			select {
			case <-l.stop:
				return
			default:
			}
			if time.Now().After(deadline) {
				return
			}
			r := svcRequest{start: time.Now()}
			resp, err := client.Get("http://" + addr + "/")
			if err != nil {
				r.err = err.Error()
			} else {
				body, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				f := strings.Fields(string(body))
				switch {
				case rerr != nil:
					r.err = rerr.Error()
				case resp.StatusCode != http.StatusOK:
					r.err = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
				case len(f) < 3 || f[0] != "This":
					r.err = fmt.Sprintf("unexpected answer %q", body)
				default:
					r.version = f[2]
				}
			}
			r.end = time.Now()
			l.mu.Lock()
			l.reqs = append(l.reqs, r)
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() { l.finish() })
	return l
}

// finish stops the load and returns every request made.
func (l *svcLoad) finish() []svcRequest {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
	return l.reqs
}

func (l *svcLoad) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

// snapshot returns the requests made so far.
func (l *svcLoad) snapshot() []svcRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

// waitMore waits until the load has made n more requests.
func (e *svcEnv) waitMore(l *svcLoad, n int) {
	e.t.Helper()
	target := l.count() + n
	eventually(e.t, 60*time.Second, fmt.Sprintf("%d more requests", n), func() bool { return l.count() >= target })
}

// failures returns the failed requests among reqs.
func failures(reqs []svcRequest) []svcRequest {
	var out []svcRequest
	for _, r := range reqs {
		if r.err != "" {
			out = append(out, r)
		}
	}
	return out
}

// versions counts answers by version.
func versions(reqs []svcRequest) map[string]int {
	out := map[string]int{}
	for _, r := range reqs {
		if r.err == "" {
			out[r.version]++
		}
	}
	return out
}

// report logs the request and failure counts (the tests print them, as the issue asks).
func report(t *testing.T, what string, reqs []svcRequest) {
	t.Helper()
	f := failures(reqs)
	t.Logf("%s: %d requests, %d failed, answers by version %v", what, len(reqs), len(f), versions(reqs))
	for i, r := range f {
		if i == 5 {
			t.Logf("  ... %d more", len(f)-5)
			break
		}
		t.Logf("  failed at +%v: %s", r.start.Sub(reqs[0].start).Round(time.Millisecond), r.err)
	}
}

// lastVersions returns the versions of the last n answers.
func lastVersions(reqs []svcRequest, n int) map[string]int {
	var ok []svcRequest
	for _, r := range reqs {
		if r.err == "" {
			ok = append(ok, r)
		}
	}
	return versions(ok[max(0, len(ok)-n):])
}

func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}
