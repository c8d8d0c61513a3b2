package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// streamsEnv is a server whose embedded node n1 runs pod "local" and whose second node n2, a
// `skiff agent`, runs pod "remote": both kubia apps. Streams to the first stay in the server's
// process; streams to the second go over HTTPS to the agent.
type streamsEnv struct {
	s *server
	c kubernetes.Interface
}

func newStreamsEnv(t *testing.T) *streamsEnv {
	s, n := startAgentServer(t)
	startAgent(t, s, "n2", n.nodeIP(2))
	c := s.client()
	waitNodeReady(t, c, "n2")
	for _, p := range []*corev1.Pod{kubiaPod("local", "n1"), kubiaPod("remote", "n2")} {
		createPod(t, c, p)
	}
	e := &streamsEnv{s: s, c: c}
	e.waitReady(t, "local", "remote")
	return e
}

func kubiaPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
			Name: "kubia", Image: "luksa/kubia", Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		}}},
	}
}

func (e *streamsEnv) waitReady(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		eventually(t, 60*time.Second, "pod "+name+" Ready", func() bool {
			p, err := e.c.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
			return err == nil && podReady(p)
		})
	}
}

// exitCodeOf is a finished command's exit code (0 for no error, -1 if it did not exit).
func exitCodeOf(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// kubectlCmd is kubectl k with args against s, not yet started.
func (s *server) kubectlCmd(ctx context.Context, k kubectl, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, k.argv[0], append(append([]string{}, k.argv[1:]...), args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig, "HOME="+s.home)
	return cmd
}

// TestStreams drives exec, attach, cp and port-forward through every kubectl: the bundled 1.27
// to 1.29 speak SPDY, 1.30 and later (and the built-in one) WebSocket, falling back to SPDY.
func TestStreams(t *testing.T) {
	t.Parallel()
	e := newStreamsEnv(t)
	pods := []string{"local", "remote"}

	t.Run("exec", func(t *testing.T) {
		for _, k := range kubectls(t) {
			for _, pod := range pods {
				out, errOut, err := e.s.run(k, "", "exec", pod, "--", "sh", "-c", "echo out; echo err >&2")
				if err != nil || out != "out\n" || !strings.Contains(errOut, "err\n") {
					t.Errorf("kubectl %s exec %s: %v, stdout %q, stderr %q", k.name, pod, err, out, errOut)
				}
				out, _, err = e.s.run(k, "line 1\nline 2\n", "exec", "-i", pod, "--", "cat")
				if err != nil || out != "line 1\nline 2\n" {
					t.Errorf("kubectl %s exec -i %s -- cat: %v, stdout %q", k.name, pod, err, out)
				}
				if pod != "local" && k.name != "builtin" && k.name != "1.27" {
					continue // exit codes travel the same way to both nodes
				}
				for script, want := range map[string]int{"false": 1, "exit 3": 3} {
					_, errOut, err := e.s.run(k, "", "exec", pod, "--", "sh", "-c", script)
					if code := exitCodeOf(err); code != want {
						t.Errorf("kubectl %s exec %s -- sh -c %q: exit code %d, want %d (stderr %q)", k.name, pod, script, code, want, errOut)
					}
				}
			}
		}
	})

	t.Run("exec errors", func(t *testing.T) {
		createPod(t, e.c, shPod("pending", "sleep 1", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "no-such/image:1" }))
		eventually(t, 30*time.Second, "pod pending waiting for its image", func() bool {
			p, err := e.c.CoreV1().Pods("default").Get(context.Background(), "pending", metav1.GetOptions{})
			return err == nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil
		})
		for _, k := range []kubectl{builtinKubectl(), bundled(t, "1.27")} {
			for _, pod := range pods {
				_, errOut, err := e.s.run(k, "", "exec", pod, "--", "no-such-command")
				if code := exitCodeOf(err); code != 127 || !strings.Contains(errOut, `exec: "no-such-command": executable file not found in $PATH`) ||
					!strings.Contains(errOut, "command terminated with exit code 127") {
					t.Errorf("kubectl %s exec %s -- no-such-command: exit %d, stderr %q", k.name, pod, code, errOut)
				}
				_, errOut, err = e.s.run(k, "", "exec", pod, "-c", "nope", "--", "true")
				if exitCodeOf(err) != 1 || !strings.Contains(errOut, "container nope is not valid for pod "+pod) {
					t.Errorf("kubectl %s exec %s -c nope: %v, stderr %q", k.name, pod, err, errOut)
				}
			}
			_, errOut, err := e.s.run(k, "", "exec", "pending", "--", "true")
			if exitCodeOf(err) != 1 || !strings.Contains(errOut, `error: unable to upgrade connection: container not found ("main")`) {
				t.Errorf("kubectl %s exec into a pod that is not running: %v, stderr %q", k.name, err, errOut)
			}
		}
		// The API answers a container the pod does not have with upstream's 400, whatever kubectl checks first.
		err := e.c.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("local").SubResource("exec").
			Param("container", "nope").Param("command", "true").Param("stdout", "true").Do(context.Background()).Error()
		if !strings.Contains(err.Error(), "container nope is not valid for pod local") {
			t.Errorf("exec -c nope through the API: %v", err)
		}
	})

	t.Run("exec -it", func(t *testing.T) {
		for _, k := range []kubectl{builtinKubectl(), bundled(t, "1.27"), bundled(t, "1.33")} {
			for _, pod := range pods {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				cmd := e.s.kubectlCmd(ctx, k, "exec", "-it", pod, "--", "sh")
				term, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 31, Cols: 101})
				if err != nil {
					cancel()
					t.Fatal(err)
				}
				var out lockedWriter
				out.w = &bytes.Buffer{}
				copied := make(chan struct{})
				go func() { io.Copy(&out, term); close(copied) }()
				seen := func(s string) func() bool {
					return func() bool { out.mu.Lock(); defer out.mu.Unlock(); return strings.Contains(out.w.String(), s) }
				}
				// $((...)) shows only in the answer, not in the echo of what was typed
				io.WriteString(term, "echo hi-$((40+2)); stty size\n")
				eventually(t, 30*time.Second, "kubectl "+k.name+" exec -it "+pod+" echoing", seen("hi-42\r\n31 101\r\n"))
				io.WriteString(term, "exit 7\n")
				err = cmd.Wait()
				term.Close()
				<-copied
				cancel()
				if code := exitCodeOf(err); code != 7 {
					t.Errorf("kubectl %s exec -it %s: exit code %d, want 7; terminal:\n%s", k.name, pod, code, out.w.String())
				}
			}
		}
	})

	t.Run("attach", func(t *testing.T) {
		for _, node := range []string{"n1", "n2"} {
			name := "echo-" + node
			createPod(t, e.c, shPod(name, `while read l; do echo "echo: $l"; done`, func(p *corev1.Pod) {
				p.Spec.NodeName, p.Spec.Containers[0].Stdin = node, true
			}))
			e.waitReady(t, name)
			for _, k := range []kubectl{builtinKubectl(), bundled(t, "1.27"), bundled(t, "1.30"), bundled(t, "1.33")} {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				cmd := e.s.kubectlCmd(ctx, k, "attach", "-i", name)
				in, _ := cmd.StdinPipe()
				var out lockedWriter
				out.w = &bytes.Buffer{}
				cmd.Stdout = &out
				if err := cmd.Start(); err != nil {
					cancel()
					t.Fatal(err)
				}
				line := "hello from " + k.name
				// Until the attachment is made, lines go to whoever is attached: none. Send until one echoes.
				eventually(t, 30*time.Second, "kubectl "+k.name+" attach "+name+" echoing", func() bool {
					io.WriteString(in, line+"\n")
					out.mu.Lock()
					defer out.mu.Unlock()
					return strings.Contains(out.w.String(), "echo: "+line+"\n")
				})
				in.Close() // detach: the container keeps running
				err := cmd.Wait()
				cancel()
				if err != nil {
					t.Errorf("kubectl %s attach -i %s: %v", k.name, name, err)
				}
			}
			if p := getPod(t, e.c, name); !podReady(p) {
				t.Errorf("pod %s not running after its clients detached: %+v", name, p.Status.ContainerStatuses)
			}
		}
	})

	t.Run("run -i", func(t *testing.T) {
		for i, k := range []kubectl{builtinKubectl(), bundled(t, "1.27")} {
			name := "once-" + string(rune('a'+i))
			out, errOut, err := e.s.run(k, "one\ntwo\n", "run", name, "--image=kubia", "-i", "--restart=Never", "--command", "--",
				"sh", "-c", `while read l; do echo "got $l"; done; echo bye`)
			if err != nil || out != "got one\ngot two\nbye\n" {
				t.Errorf("kubectl %s run -i: %v, stdout %q, stderr %q", k.name, err, out, errOut)
			}
		}
	})

	t.Run("cp", func(t *testing.T) {
		dir := t.TempDir()
		src := filepath.Join(dir, "tree")
		os.MkdirAll(filepath.Join(src, "sub"), 0o755)
		os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha\n"), 0o644)
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		os.WriteFile(filepath.Join(src, "sub", "big.bin"), big, 0o644)
		for _, k := range []kubectl{builtinKubectl(), bundled(t, "1.27"), bundled(t, "1.33")} {
			for _, pod := range pods {
				remote := "copied-" + strings.ReplaceAll(k.name, ".", "-")
				e.s.must(k, "cp", src, pod+":"+remote)
				if out := e.s.must(k, "exec", pod, "--", "cat", remote+"/a.txt"); out != "alpha\n" {
					t.Errorf("kubectl %s cp to %s: a.txt reads %q", k.name, pod, out)
				}
				back := filepath.Join(dir, pod+"-"+remote)
				e.s.must(k, "cp", pod+":"+remote, back)
				got, err := os.ReadFile(filepath.Join(back, "sub", "big.bin"))
				if err != nil || !bytes.Equal(got, big) {
					t.Errorf("kubectl %s cp from %s: big.bin %d bytes (%v), want %d", k.name, pod, len(got), err, len(big))
				}
			}
		}
	})

	t.Run("port-forward", func(t *testing.T) {
		for _, k := range []kubectl{builtinKubectl(), bundled(t, "1.27"), bundled(t, "1.29"), bundled(t, "1.30"), bundled(t, "1.33")} {
			for _, pod := range pods {
				addr, stop := e.portForward(t, k, "pod/"+pod, "8080")
				for range 3 {
					code, body, err := httpGet(addr)
					if err != nil || code != 200 || body != "You've hit "+pod+"\n" {
						t.Errorf("kubectl %s port-forward %s: GET %s: %d %q %v", k.name, pod, addr, code, body, err)
					}
				}
				stop()
			}
		}
	})

	t.Run("client-go", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", e.s.kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		for _, pod := range pods {
			for _, protocol := range []string{"SPDY", "WebSocket"} {
				var stdout, stderr bytes.Buffer
				err := clientGoExec(cfg, e.c, protocol, pod, []string{"sh", "-c", "cat; echo to-stderr >&2; exit 3"}, remotecommand.StreamOptions{
					Stdin: strings.NewReader("from stdin\n"), Stdout: &stdout, Stderr: &stderr,
				})
				var ce utilexec.CodeExitError
				if !errors.As(err, &ce) || ce.Code != 3 || stdout.String() != "from stdin\n" || stderr.String() != "to-stderr\n" {
					t.Errorf("%s exec in %s: %v, stdout %q, stderr %q", protocol, pod, err, stdout.String(), stderr.String())
				}
			}
		}
	})
}

// clientGoExec runs cmd in pod through client-go's SPDY or WebSocket executor.
func clientGoExec(cfg *rest.Config, c kubernetes.Interface, protocol, pod string, cmd []string, opts remotecommand.StreamOptions) error {
	req := c.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: cmd, Stdin: opts.Stdin != nil, Stdout: opts.Stdout != nil, Stderr: opts.Stderr != nil},
			scheme.ParameterCodec)
	var (
		ex  remotecommand.Executor
		err error
	)
	if protocol == "SPDY" {
		ex, err = remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	} else {
		ex, err = remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return ex.StreamWithContext(ctx, opts)
}

// bundled is the bundled kubectl of that minor version; the test fails without it.
func bundled(t *testing.T, version string) kubectl {
	t.Helper()
	for _, k := range kubectls(t) {
		if k.name == version {
			return k
		}
	}
	t.Fatalf("no bundled kubectl %s", version)
	return kubectl{}
}

var forwardingLine = regexp.MustCompile(`Forwarding from (127\.0\.0\.1:\d+) -> `)

// portForward runs kubectl port-forward on a free local port of 127.0.0.1 to target's port and
// returns the local address and a function that stops it.
func (e *streamsEnv) portForward(t testing.TB, k kubectl, target, port string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := e.s.kubectlCmd(ctx, k, "port-forward", "--address", "127.0.0.1", target, ":"+port)
	stdout, _ := cmd.StdoutPipe()
	var stderr lockedWriter
	stderr.w = &bytes.Buffer{}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	stop := func() { cancel(); cmd.Wait() }
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := forwardingLine.FindStringSubmatch(sc.Text()); m != nil {
				lines <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case addr := <-lines:
		return addr, stop
	case <-time.After(30 * time.Second):
		stop()
		t.Fatalf("kubectl %s port-forward %s: no Forwarding line; stderr %s", k.name, target, stderr.w.String())
		return "", nil
	}
}
