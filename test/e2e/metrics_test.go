package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/internal/metrics/metricstest"
)

// promtoolCheck lints a scrape with `promtool check metrics`; any problem it reports fails t.
func promtoolCheck(t *testing.T, what string, scrape []byte) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not installed (test/setup.sh installs it): %v", err)
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics of %s: %v\n%s", what, err, out)
	}
}

// TestMetrics scrapes a real server's /metrics with kubectl and a joined agent's /metrics over
// HTTPS, lints both with promtool, and follows a rollout in kube-state-metrics' Deployment
// series.
func TestMetrics(t *testing.T) {
	s, n := startAgentServer(t)
	c := s.client()
	k := builtinKubectl()
	startAgent(t, s, "n2", n.nodeIP(2))
	waitNodeReady(t, c, "n2")
	s.must(k, "apply", "-f", writeFile(t, "kubia.yaml", kubiaV1))
	eventually(t, 60*time.Second, "3 kubia pods ready", func() bool { return len(podsReady(c, "app=kubia")) == 3 })

	scrape := func() []byte { return []byte(s.must(k, "get", "--raw", "/metrics")) }
	raw := scrape()
	promtoolCheck(t, "the server", raw)
	fams := metricstest.Parse(t, raw)
	for _, want := range []struct {
		name   string
		labels map[string]string
	}{
		{"apiserver_request_total", map[string]string{"verb": "LIST", "resource": "pods", "component": "apiserver"}},
		{"apiserver_request_duration_seconds", map[string]string{"verb": "POST", "resource": "pods", "scope": "resource"}},
		{"apiserver_storage_objects", map[string]string{"resource": "pods"}},
		{"etcd_request_duration_seconds", map[string]string{"operation": "create", "resource": "pods"}},
		{"workqueue_adds_total", map[string]string{"name": "deployment"}},
		{"workqueue_depth", map[string]string{"name": "replicaset"}},
		{"rest_client_requests_total", map[string]string{"method": "POST", "code": "201"}},
		{"rest_client_request_duration_seconds", map[string]string{"verb": "GET"}},
		{"kube_deployment_spec_replicas", map[string]string{"namespace": "default", "deployment": "kubia"}},
		{"kube_replicaset_owner", map[string]string{"owner_kind": "Deployment", "owner_name": "kubia", "owner_is_controller": "true"}},
		{"kubelet_running_pods", nil},
		{"container_cpu_usage_seconds_total", map[string]string{"container": "nodejs"}},
		{"skiff_proxy_connections_total", map[string]string{"namespace": "default", "service": "kubernetes"}},
		{"process_cpu_seconds_total", nil},
		{"go_goroutines", nil},
	} {
		if _, ok := fams.Value(want.name, want.labels); !ok {
			t.Errorf("server /metrics has no %s%v", want.name, want.labels)
		}
	}

	// The joined agent serves its own /metrics, to the agent token only.
	node, err := c.CoreV1().Nodes().Get(context.Background(), "n2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(filepath.Join(s.dataDir, "agent-token"))
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("https://%s:%d/metrics", n.nodeIP(2), node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(tok string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Errorf("agent /metrics without a token: %d, want 401", code)
	}
	code, body := get(strings.TrimSpace(string(token)))
	if code != http.StatusOK {
		t.Fatalf("agent /metrics: %d %s", code, body)
	}
	promtoolCheck(t, "the agent", body)
	agentFams := metricstest.Parse(t, body)
	for _, name := range []string{"kubelet_running_pods", "kubelet_node_name", "skiff_proxy_open_connections", "rest_client_requests_total", "workqueue_adds_total"} {
		if _, ok := agentFams.Value(name, nil); !ok {
			t.Errorf("agent /metrics has no %s", name)
		}
	}

	// A rollout, followed in kube-state-metrics' series.
	s.must(k, "set", "image", "deployment", "kubia", "nodejs=luksa/kubia:v2")
	deploy := map[string]string{"namespace": "default", "deployment": "kubia"}
	var last string
	eventually(t, 120*time.Second, "the rollout's series to settle", func() bool {
		f := metricstest.Parse(t, scrape())
		v := func(name string) float64 { x, _ := f.Value(name, deploy); return x }
		last = fmt.Sprintf("generation %v observed %v updated %v replicas %v available %v unavailable %v",
			v("kube_deployment_metadata_generation"), v("kube_deployment_status_observed_generation"),
			v("kube_deployment_status_replicas_updated"), v("kube_deployment_status_replicas"),
			v("kube_deployment_status_replicas_available"), v("kube_deployment_status_replicas_unavailable"))
		return v("kube_deployment_metadata_generation") == 2 && v("kube_deployment_status_observed_generation") == 2 &&
			v("kube_deployment_status_replicas_updated") == v("kube_deployment_spec_replicas") &&
			v("kube_deployment_status_replicas") == 3 && v("kube_deployment_status_replicas_available") == 3 &&
			v("kube_deployment_status_replicas_unavailable") == 0
	})
	t.Logf("after the rollout: %s", last)
	f := metricstest.Parse(t, scrape())
	if v, ok := f.Value("kube_deployment_status_condition", map[string]string{"deployment": "kubia", "condition": "Available", "status": "true"}); !ok || v != 1 {
		t.Errorf("kube_deployment_status_condition Available=true is %v (present: %v), want 1", v, ok)
	}
	rsCount := 0
	for _, m := range f["kube_replicaset_spec_replicas"].GetMetric() {
		for _, l := range m.Label {
			if l.GetName() == "replicaset" && strings.HasPrefix(l.GetValue(), "kubia-") {
				rsCount++
			}
		}
	}
	if rsCount != 2 {
		t.Errorf("%d kubia ReplicaSets in kube_replicaset_spec_replicas, want the old and the new", rsCount)
	}
}

// topRow finds the row of name in kubectl top's output and returns its fields.
func topRow(out, name string) []string {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == name {
			return f
		}
	}
	return nil
}

// TestKubectlTop reads metrics.k8s.io with kubectl top (built-in, 1.27 and 1.33) on a server
// with its embedded node and a joined one: nodes, pods, containers, a label selector and a
// busy pod's CPU.
func TestKubectlTop(t *testing.T) {
	s, n := startAgentServer(t)
	c := s.client()
	startAgent(t, s, "n2", n.nodeIP(2))
	waitNodeReady(t, c, "n2")
	// A busy pod on each node, and a two-container pod.
	for _, node := range []string{"n1", "n2"} {
		createPod(t, c, shPod("busy-"+node, "while :; do :; done", func(p *corev1.Pod) {
			p.Spec.NodeName = node
			p.Labels["load"] = "busy"
		}))
	}
	createPod(t, c, shPod("pair", "sleep 3600", func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "side", Image: "luksa/kubia:v1", Command: []string{"sh", "-c", "sleep 3600"}})
	}))
	eventually(t, 60*time.Second, "3 pods running", func() bool {
		list, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false
		}
		running := 0
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return running == 3
	})

	var ks []kubectl
	for _, k := range kubectls(t) {
		if k.name == "1.27" || k.name == "1.33" || k.name == "builtin" {
			ks = append(ks, k)
		}
	}
	if len(ks) != 3 {
		t.Fatalf("kubectl 1.27, 1.33 and the built-in one are needed; have %v", ks)
	}
	for _, k := range ks {
		t.Run(k.name, func(t *testing.T) {
			var out, errOut string
			eventually(t, 60*time.Second, "kubectl top pod to list every pod", func() bool {
				var err error
				out, errOut, err = s.run(k, "", "top", "pod")
				return err == nil && topRow(out, "busy-n1") != nil && topRow(out, "busy-n2") != nil && topRow(out, "pair") != nil
			})
			if !strings.Contains(out, "CPU(cores)") || !strings.Contains(out, "MEMORY(bytes)") {
				t.Errorf("kubectl top pod:\n%s%s", out, errOut)
			}
			idle, err := resource.ParseQuantity(topRow(out, "pair")[1])
			if err != nil {
				t.Fatalf("kubectl top pod:\n%s", out)
			}
			for _, name := range []string{"busy-n1", "busy-n2"} {
				// A busy loop's share of the CPU depends on the load; it is some, and more
				// than a sleeping pod's.
				row := topRow(out, name)
				cpu, err := resource.ParseQuantity(row[1])
				if err != nil || cpu.MilliValue() < 10 || cpu.Cmp(idle) <= 0 {
					t.Errorf("%s uses %s CPU, a sleeping pod %s; want a busy loop's", name, row[1], idle.String())
				}
				mem, err := resource.ParseQuantity(row[2])
				if err != nil || mem.Value() <= 0 {
					t.Errorf("%s uses %s memory", name, row[2])
				}
			}

			out = s.must(k, "top", "pod", "--containers", "pair")
			if !strings.Contains(out, "main") || !strings.Contains(out, "side") {
				t.Errorf("kubectl top pod --containers pair:\n%s", out)
			}
			out = s.must(k, "top", "pod", "-l", "load=busy")
			if topRow(out, "pair") != nil || topRow(out, "busy-n1") == nil {
				t.Errorf("kubectl top pod -l load=busy:\n%s", out)
			}
			_, errOut, err = s.run(k, "", "top", "pod", "missing")
			if err == nil || !strings.Contains(errOut, `pods.metrics.k8s.io "default/missing" not found`) {
				t.Errorf("kubectl top pod missing: err %v, stderr %q", err, errOut)
			}

			eventually(t, 90*time.Second, "kubectl top node to list both nodes", func() bool {
				out, errOut, err = s.run(k, "", "top", "node")
				ok := err == nil && topRow(out, "n1") != nil && topRow(out, "n2") != nil
				if !ok {
					t.Logf("kubectl top node: %v\n%s%s", err, out, errOut)
				}
				return ok
			})
			if !strings.Contains(out, "CPU") || !strings.Contains(out, "MEMORY") || !strings.Contains(out, "%") {
				t.Errorf("kubectl top node:\n%s", out)
			}
		})
	}
}
