package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// builtinKubectl is `skiff kubectl` (a function: skiffBin is set by TestMain).
func builtinKubectl() kubectl { return kubectl{name: "builtin", argv: []string{skiffBin, "kubectl"}} }

// agentNet is one test's own addresses: node IPs 127.0.K.1 (the server's node) and 127.0.K.2,
// pod ranges in 127.K.0.0/16 and ClusterIPs in 127.K+1.0.0/16, so parallel tests never collide.
type agentNet struct{ k int }

var (
	netMu   sync.Mutex       // guards netUsed
	netUsed = map[int]bool{} // K of the networks of the tests still running
)

// newAgentNet picks a network no running test has, and gives it back when t ends (after the
// test's servers, started later, are stopped: cleanups run last first).
func newAgentNet(t testing.TB) agentNet {
	t.Helper()
	netMu.Lock()
	defer netMu.Unlock()
	var free []int
	for k := 130; k <= 248; k += 2 {
		if !netUsed[k] {
			free = append(free, k)
		}
	}
	if len(free) == 0 {
		t.Fatalf("all %d test networks are in use", len(netUsed))
	}
	k := free[rand.IntN(len(free))]
	netUsed[k] = true
	t.Cleanup(func() {
		netMu.Lock()
		defer netMu.Unlock()
		delete(netUsed, k)
	})
	return agentNet{k: k}
}

func (n agentNet) nodeIP(i int) string { return fmt.Sprintf("127.0.%d.%d", n.k, i) }

func (n agentNet) serverArgs() []string {
	return []string{"--node-name", "n1", "--node-ip", n.nodeIP(1), "--runtime", "process",
		"--cluster-cidr", fmt.Sprintf("127.%d.0.0/16", n.k), "--node-cidr-mask-size", "24",
		"--service-cidr", fmt.Sprintf("127.%d.0.0/16", n.k+1)}
}

// startAgentServer starts a server whose embedded agent runs pods as processes and waits for
// its node to be Ready.
func startAgentServer(t *testing.T, extra ...string) (*server, agentNet) {
	t.Helper()
	n := newAgentNet(t)
	s := startServer(t, append(n.serverArgs(), extra...)...)
	waitNodeReady(t, s.client(), "n1")
	return s, n
}

func waitNodeReady(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	eventually(t, 30*time.Second, "node "+name+" Ready with a pod CIDR", func() bool {
		n, err := c.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil || n.Spec.PodCIDR == "" {
			return false
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status == corev1.ConditionTrue
			}
		}
		return false
	})
}

// agentProc is a `skiff agent` process joined to a test server.
type agentProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *lockedWriter
	args   []string
}

// startAgent starts `skiff agent` for node name at ip, joined to s; the test stops it.
func startAgent(t *testing.T, s *server, name, ip string, extra ...string) *agentProc {
	t.Helper()
	dir := t.TempDir()
	a := &agentProc{t: t, stderr: &lockedWriter{w: &bytes.Buffer{}}}
	a.args = append([]string{"agent", "--server", s.url, "--token-file", filepath.Join(s.dataDir, "agent-token"),
		"--node-name", name, "--node-ip", ip, "--port", strconv.Itoa(freePort(t)),
		"--data-dir", filepath.Join(dir, "data"), "--images-dir", filepath.Join(dir, "images")}, extra...)
	a.start()
	t.Cleanup(a.stop)
	return a
}

func (a *agentProc) start() {
	a.cmd = exec.Command(skiffBin, a.args...)
	a.cmd.Stderr = a.stderr
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.cmd.Start(); err != nil {
		a.t.Fatalf("start skiff agent: %v", err)
	}
}

func (a *agentProc) stop() {
	if a.cmd == nil {
		return
	}
	_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = a.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	a.cmd = nil
}

func (a *agentProc) kill() {
	_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
	_ = a.cmd.Wait()
	a.cmd = nil
}

// podsReady returns the Ready, not terminating pods matching selector.
func podsReady(c kubernetes.Interface, selector string) []corev1.Pod {
	list, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && podReady(&p) {
			out = append(out, p)
		}
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func getPod(t *testing.T, c kubernetes.Interface, name string) *corev1.Pod {
	t.Helper()
	p, err := c.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod %s: %v", name, err)
	}
	return p
}

// httpGet fetches http://addr/ with a short timeout.
func httpGet(addr string) (int, string, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(conn, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", addr)
	r := bufio.NewReader(conn)
	status, err := r.ReadString('\n')
	if err != nil {
		return 0, "", err
	}
	f := strings.Fields(status)
	if len(f) < 2 {
		return 0, "", fmt.Errorf("bad status line %q", status)
	}
	code, _ := strconv.Atoi(f[1])
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return code, "", err
		}
		if l == "\r\n" {
			break
		}
	}
	var body bytes.Buffer
	body.ReadFrom(r)
	return code, body.String(), nil
}

// processesWith returns the PIDs of processes whose command line or environment contains marker.
func processesWith(marker string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if alive(pid, marker) {
			out = append(out, pid)
		}
	}
	return out
}

// alive reports whether pid still runs with marker in its command line or environment (a
// reused PID does not count).
func alive(pid int, marker string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	env, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil || (!bytes.Contains(b, []byte(marker)) && !bytes.Contains(env, []byte(marker))) {
		return false
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(st), ") Z ")
}

func uniqueMarker(t *testing.T) string {
	return fmt.Sprintf("skiff-e2e-%d-%d", os.Getpid(), rand.IntN(1<<30))
}

// shPod is a pod whose one container runs script under sh; marker ends the script as a comment
// so the test can find its processes.
func shPod(name, script string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"test": name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "luksa/kubia:v1", Command: []string{"sh", "-c", script},
		}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func createPod(t *testing.T, c kubernetes.Interface, p *corev1.Pod) {
	t.Helper()
	if _, err := c.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", p.Name, err)
	}
}

func eventsFor(t *testing.T, c kubernetes.Interface, pod string) []corev1.Event {
	list, err := c.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Name == pod {
			out = append(out, e)
		}
	}
	return out
}
