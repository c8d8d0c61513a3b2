package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ch9 is the reader's machine in the chapter 9 acceptance test: one server, one kubectl, and a
// shell whose working directory is examples/chapter9.
type ch9 struct {
	t       *testing.T
	s       *server
	k       kubectl
	c       kubernetes.Interface
	dir     string // examples/chapter9, absolute
	nodeIP  string
	section string // "9.2.2": the prefix of the lines the test prints
}

// ch9Server starts the reader's server with pods as real processes, on its own node IP, pod
// range and Service range so NodePort 30123 never collides with other tests, and waits for its
// node to be Ready.
func ch9Server(t *testing.T) *ch9 {
	t.Helper()
	dir, err := filepath.Abs("../../examples/chapter9")
	if err != nil {
		t.Fatal(err)
	}
	s, n := startAgentServer(t)
	c := &ch9{t: t, s: s, k: preferredKubectl(t), c: s.client(), dir: dir, nodeIP: n.nodeIP(1)}
	t.Logf("kubectl %s, node IP %s", c.k.name, c.nodeIP)
	return c
}

// step runs one command of the tutorial (or one check of what it shows) and prints a line for
// it, ok or FAILED.
func (c *ch9) step(name string, fn func()) {
	c.t.Helper()
	ok := false
	defer func() {
		result := "ok"
		if !ok {
			result = "FAILED"
		}
		fmt.Printf("chapter9: %s %s ... %s\n", c.section, name, result)
	}()
	fn()
	ok = true
}

// sh runs one command line of the tutorial in examples/chapter9: "kubectl ..." runs the test's
// kubectl and "skiff ..." the skiff binary under test. It returns stdout, stderr and the error.
func (c *ch9) sh(timeout time.Duration, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := c.command(ctx, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	c.t.Logf("$ %s\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	return stdout.String(), stderr.String(), err
}

func (c *ch9) command(ctx context.Context, args ...string) *exec.Cmd {
	var argv []string
	switch args[0] {
	case "kubectl":
		argv = append(append(argv, c.k.argv...), args[1:]...)
	case "skiff":
		argv = append([]string{skiffBin}, args[1:]...)
	default:
		c.t.Fatalf("the tutorial runs only kubectl and skiff, not %q", args[0])
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if args[0] == "kubectl" && len(c.k.argv) == 1 {
		// As the reader types it: kubectl records its own name in CHANGE-CAUSE.
		cmd.Args[0] = "kubectl"
	}
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.s.kubeconfig, "HOME="+c.s.home)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// run runs a command that must succeed and returns its stdout.
func (c *ch9) run(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.sh(90*time.Second, args...)
	if err != nil {
		c.t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// want fails unless out has every line of lines (each a regular expression matched against one
// whole line, in order, other lines allowed between them).
func (c *ch9) want(what, out string, lines ...string) {
	c.t.Helper()
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	i := 0
	for _, l := range got {
		if i < len(lines) && regexp.MustCompile("^"+lines[i]+"$").MatchString(strings.TrimRight(l, " ")) {
			i++
		}
	}
	if i < len(lines) {
		c.t.Fatalf("%s: no line matching %q (in order) in:\n%s", what, lines[i], out)
	}
}

// deleted is the line kubectl delete prints for what (`pod "kubia-v1-\w{5}"`, a regular
// expression): `pod "kubia-v1-xxxxx" deleted` from the chapter's kubectl, and from kubectl 1.34
// on, the built-in one among them, `... deleted from default namespace`.
func (c *ch9) deleted(what string) string {
	if c.k.name == "builtin" {
		return what + ` deleted from default namespace`
	}
	return what + ` deleted`
}

// kubectlCommand is how the reader's kubectl names itself in a recorded CHANGE-CAUSE: by the
// name it was run as, and the built-in one runs as `skiff kubectl`.
func (c *ch9) kubectlCommand() string {
	if c.k.name == "builtin" {
		return "skiff kubectl"
	}
	return "kubectl"
}

// wantExactly fails unless out is exactly lines (regular expressions, one per line).
func (c *ch9) wantExactly(what, out string, lines ...string) {
	c.t.Helper()
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(got) != len(lines) {
		c.t.Fatalf("%s: %d lines, want %d:\n%s", what, len(got), len(lines), out)
	}
	c.want(what, out, lines...)
}

// eventually re-runs a command of the tutorial until its output satisfies ok, for a bounded
// time, and returns that output. Every run and its output is in the test log.
func (c *ch9) eventually(what string, timeout time.Duration, ok func(out string) bool, args ...string) string {
	c.t.Helper()
	var out string
	eventually(c.t, timeout, what, func() bool {
		o, _, err := c.sh(30*time.Second, args...)
		out = o
		return err == nil && ok(o)
	})
	return out
}

// ch9Table parses kubectl's column output into rows keyed by header.
func ch9Table(out string) []map[string]string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		return nil
	}
	header := strings.Fields(lines[0])
	var rows []map[string]string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		row := map[string]string{}
		for i, h := range header {
			if i < len(f) {
				row[h] = f[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// ch9PodsAre reports whether `kubectl get po -o wide`-style output out lists exactly n pods whose
// names start with prefix, all Running and READY 1/1, and nothing else.
func ch9PodsAre(out, prefix string, n int) bool {
	rows := ch9Table(out)
	if len(rows) != n {
		return false
	}
	for _, r := range rows {
		if !strings.HasPrefix(r["NAME"], prefix) || r["READY"] != "1/1" || r["STATUS"] != "Running" {
			return false
		}
	}
	return true
}

// waitNoPods waits until no pod has label app=kubia: deleting a controller deletes its pods
// (the garbage collector) and the agent stops them.
func (c *ch9) waitNoPods(after string) {
	c.t.Helper()
	eventually(c.t, 60*time.Second, "no pod with app=kubia left after "+after+" (the garbage collector deletes a controller's pods)", func() bool {
		list, err := c.c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=kubia"})
		return err == nil && len(list.Items) == 0
	})
}

// waitServed waits until the kubia Service has wantPods ready endpoints (the endpoints
// controller) and answers on NodeIP:30123 (the service proxy).
func (c *ch9) waitServed(wantPods int) {
	c.t.Helper()
	eventually(c.t, 60*time.Second, fmt.Sprintf("%d ready endpoints of the kubia Service", wantPods), func() bool {
		ep, err := c.c.CoreV1().Endpoints("default").Get(context.Background(), "kubia", metav1.GetOptions{})
		if err != nil {
			return false
		}
		ready := 0
		for _, ss := range ep.Subsets {
			ready += len(ss.Addresses)
		}
		return ready == wantPods
	})
	eventually(c.t, 30*time.Second, "an answer on "+c.target()+" through the service proxy", func() bool {
		return ch9Get(c.target()).err == ""
	})
}

func (c *ch9) target() string { return net.JoinHostPort(c.nodeIP, "30123") }

// ch9Answer is one `curl http://NODE_IP:30123` of the reader's.
type ch9Answer struct {
	version string // "v1" from "This is v1 running in pod ..."
	pod     string
	body    string
	code    int
	err     string // a failed request
}

var ch9Body = regexp.MustCompile(`^This is (v\d) running in pod (\S+)\n?$`)

// ch9Get is one request on its own connection, as curl makes it.
func ch9Get(addr string) ch9Answer {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		return ch9Answer{err: err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return ch9Answer{err: err.Error(), code: resp.StatusCode}
	}
	a := ch9Answer{body: string(b), code: resp.StatusCode}
	if m := ch9Body.FindStringSubmatch(a.body); m != nil && resp.StatusCode == http.StatusOK {
		a.version, a.pod = m[1], m[2]
	} else {
		a.err = fmt.Sprintf("%d %q", resp.StatusCode, a.body)
	}
	return a
}

// curl sends n requests one after another and returns the answers.
func (c *ch9) curl(n int) []ch9Answer {
	out := make([]ch9Answer, 0, n)
	for range n {
		out = append(out, ch9Get(c.target()))
	}
	return out
}

// versions counts the answers by version; failed requests count under "error".
func ch9Versions(as []ch9Answer) map[string]int {
	m := map[string]int{}
	for _, a := range as {
		if a.err != "" {
			m["error"]++
		} else {
			m[a.version]++
		}
	}
	return m
}

// curlUntil requests until n answers in a row are version v, for a bounded time.
func (c *ch9) curlUntil(v string, n int) {
	c.t.Helper()
	run := 0
	var last ch9Answer
	defer func() {
		if run < n {
			c.t.Logf("last answer: %+v", last)
		}
	}()
	eventually(c.t, 30*time.Second, fmt.Sprintf("the Service to answer %s %d times in a row", v, n), func() bool {
		last = ch9Get(c.target())
		if last.err == "" && last.version == v {
			run++
		} else {
			run = 0
		}
		return run >= n
	})
}

// ch9Loop is the reader's `while true; do curl ...; done` in a second terminal: requests one
// after another until stopped, at most max of them and for at most limit.
type ch9Loop struct {
	mu      sync.Mutex // guards answers
	answers []ch9Answer
	stop    chan struct{}
	done    chan struct{}
}

func (c *ch9) startLoop(max int, limit time.Duration) *ch9Loop {
	l := &ch9Loop{stop: make(chan struct{}), done: make(chan struct{})}
	deadline := time.Now().Add(limit)
	go func() {
		defer close(l.done)
		pace := time.NewTicker(20 * time.Millisecond) // a request every 20 ms at most
		defer pace.Stop()
		for range max {
			if time.Now().After(deadline) {
				return
			}
			a := ch9Get(c.target())
			l.mu.Lock()
			l.answers = append(l.answers, a)
			l.mu.Unlock()
			select {
			case <-l.stop:
				return
			case <-pace.C:
			}
		}
	}()
	c.t.Cleanup(func() { l.finish() })
	return l
}

// finish stops the loop and returns every answer.
func (l *ch9Loop) finish() []ch9Answer {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.answers
}

// ch9Process is a long command the reader watches while doing other things (skiff
// rolling-update): its stdout arrives line by line.
type ch9Process struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr strings.Builder
	out    []string
	done   chan error
	cancel context.CancelFunc

	once sync.Once // guards the wait
	err  error
}

func (c *ch9) start(args ...string) *ch9Process {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	p := &ch9Process{cmd: c.command(ctx, args...), lines: make(chan string, 100), done: make(chan error, 1), cancel: cancel}
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- p.cmd.Wait()
	}()
	c.t.Cleanup(func() { cancel(); p.wait() })
	c.t.Logf("$ %s &", strings.Join(args, " "))
	return p
}

// waitLine waits for the next stdout line matching re and returns it.
func (p *ch9Process) waitLine(t *testing.T, re string, timeout time.Duration) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("command ended before printing a line matching %q; stdout:\n%s\nstderr:\n%s", re, strings.Join(p.out, "\n"), p.stderr.String())
			}
			p.out = append(p.out, l)
			if rx.MatchString(l) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line matching %q within %s; stdout so far:\n%s", re, timeout, strings.Join(p.out, "\n"))
		}
	}
}

// wait waits for the command to end and returns its whole stdout and its error.
func (p *ch9Process) wait() (string, error) {
	p.once.Do(func() {
		for l := range p.lines {
			p.out = append(p.out, l)
		}
		p.err = <-p.done
		p.cancel()
	})
	return strings.Join(p.out, "\n") + "\n", p.err
}
