package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// skiffBin is the binary built once for the package by TestMain.
var skiffBin string

func TestMain(m *testing.M) {
	if os.Getenv(sendBytesEnv) != "" { // this binary runs as a benchmark's pod
		serveBytes()
		return
	}
	dir, err := os.MkdirTemp("", "skiff-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	skiffBin = filepath.Join(dir, "skiff")
	build := exec.Command("go", "build", "-o", skiffBin, "../../cmd/skiff")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building skiff:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running `skiff server` process.
type server struct {
	t          testing.TB
	dataDir    string
	url        string
	kubeconfig string
	cmd        *exec.Cmd
	stderr     *bytes.Buffer
	home       string // a fresh HOME so kubectl's discovery cache is this test's own
	args       []string
}

var readyLine = regexp.MustCompile(`skiff is ready: (https://\S+) — export KUBECONFIG=(\S+)`)

// startServer starts skiff server on a fresh data dir and a free port and waits for its ready line.
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	s := &server{t: t, dataDir: t.TempDir(), home: t.TempDir()}
	s.args = append([]string{"server", "--data-dir", s.dataDir, "--port", "0"}, ownNetwork(t, extra)...)
	s.start()
	t.Cleanup(s.stop)
	return s
}

// ownNetwork gives a server its own node IP, pod range and service range (unless the test chose
// them) so servers of tests running in parallel never share an address or a NodePort.
func ownNetwork(t testing.TB, extra []string) []string {
	for _, a := range extra {
		if a == "--node-ip" || strings.HasPrefix(a, "--node-ip=") {
			return extra
		}
	}
	return append(newAgentNet(t).serverArgs(), extra...)
}

func (s *server) start() {
	t := s.t
	t.Helper()
	s.cmd = exec.Command(skiffBin, s.args...)
	s.stderr = &bytes.Buffer{}
	s.cmd.Stderr = &lockedWriter{w: s.stderr}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start skiff server: %v", err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("skiff server exited before it was ready; stderr:\n%s", s.stderr)
			}
			if m := readyLine.FindStringSubmatch(l); m != nil {
				s.url, s.kubeconfig = m[1], m[2]
				go func() {
					for range lines {
					}
				}()
				return
			}
		case <-deadline:
			t.Fatalf("skiff server not ready after 60s; stderr:\n%s", s.stderr)
		}
	}
}

// stop ends the server with SIGTERM (SIGKILL after 10 s) and waits for it.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	s.cmd = nil
}

// kill ends the server with SIGKILL, as a crash would.
func (s *server) kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// client returns a client-go clientset for the server's kubeconfig.
func (s *server) client() kubernetes.Interface {
	s.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		s.t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	return cs
}

// kubectl is one way of running kubectl: a bundled version's binary or the built-in one.
type kubectl struct {
	name string   // "1.32" or "builtin"
	argv []string // command and leading args
}

// kubectls returns the bundled kubectl versions next to the system kubectl (if any) and the
// built-in `skiff kubectl`.
func kubectls(t *testing.T) []kubectl {
	var out []kubectl
	if path, err := exec.LookPath("kubectl"); err == nil {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			matches, _ := filepath.Glob(filepath.Join(filepath.Dir(real), "kubectl.1.*"))
			sort.Strings(matches)
			for _, m := range matches {
				out = append(out, kubectl{name: strings.TrimPrefix(filepath.Base(m), "kubectl."), argv: []string{m}})
			}
		}
	}
	if len(out) == 0 {
		t.Log("no bundled kubectl versions found; testing the built-in kubectl only")
	}
	return append(out, kubectl{name: "builtin", argv: []string{skiffBin, "kubectl"}})
}

// run runs kubectl with args against s, with stdin, and returns stdout, stderr and the error.
func (s *server) run(k kubectl, stdin string, args ...string) (string, string, error) {
	return s.runEnv(k, nil, stdin, args...)
}

// runEnv is run with extra environment variables (NAME=value).
func (s *server) runEnv(k kubectl, env []string, stdin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.argv[0], append(append([]string{}, k.argv[1:]...), args...)...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+s.kubeconfig, "HOME="+s.home), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// must runs kubectl and fails the test if it fails, returning stdout.
func (s *server) must(k kubectl, args ...string) string {
	s.t.Helper()
	out, errOut, err := s.run(k, "", args...)
	if err != nil {
		s.t.Fatalf("kubectl %s %s: %v\nstdout:\n%s\nstderr:\n%s", k.name, strings.Join(args, " "), err, out, errOut)
	}
	return out
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// eventually calls cond until it returns true, and fails the test if timeout passes first. It
// is the one way the tests wait for what the server does in the background (an object a
// controller makes, a status it writes, an Event, an endpoint): a read straight after an
// asynchronous write races it. Between calls it pauses 50 ms, or as long as cond took if that
// is longer, so that a costly check (a kubectl run) runs at most half the time.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		start := time.Now()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(max(50*time.Millisecond, time.Since(start)))
	}
}
