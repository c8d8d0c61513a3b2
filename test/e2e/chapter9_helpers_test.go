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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ch9 is the reader's machine in the chapter 9 acceptance test: one server, one kubectl, a
// shell whose working directory is examples/chapter9, and what this skiff can do.
type ch9 struct {
	t       *testing.T
	s       *server
	k       kubectl
	c       kubernetes.Interface
	dir     string // examples/chapter9, absolute
	nodeIP  string
	section string // "9.2.2": the prefix of the lines the test prints

	// What the server can do; each false one names what is missing, for the skip messages.
	realPods bool   // pods are processes answering HTTP and running probes (--runtime process)
	noPods   string // why not
	traffic  bool   // NodeIP:30123 reaches the ready pods (endpoints controller and proxy)
	noTraf   string // why not
	gc       bool   // deleting a controller deletes its pods (garbage collector)
	skipped  []string
}

// ch9Server starts the reader's server: its own node IP and Service range so NodePort 30123
// never collides with other tests, and the process runtime when this skiff has one, else the
// fake one (then the steps that need real pods or traffic are skipped, each saying so).
func ch9Server(t *testing.T) *ch9 {
	t.Helper()
	dir, err := filepath.Abs("../../examples/chapter9")
	if err != nil {
		t.Fatal(err)
	}
	n := newAgentNet(t)
	c := &ch9{t: t, k: preferredKubectl(t), dir: dir, nodeIP: n.nodeIP(1), gc: true}
	args := []string{"--node-name", "n1", "--node-ip", c.nodeIP, "--service-cidr", fmt.Sprintf("127.%d.0.0/16", n.k+1)}
	help, _ := exec.Command(skiffBin, "server", "--help").CombinedOutput()
	if strings.Contains(string(help), "--cluster-cidr") {
		args = append(args, "--cluster-cidr", fmt.Sprintf("127.%d.0.0/16", n.k), "--node-cidr-mask-size", "24")
	}

	c.s = startServer(t, append(args, "--runtime", "process")...)
	c.c = c.s.client()
	if c.nodeReady(30 * time.Second) {
		c.realPods = true
	} else {
		c.noPods = "skiff server --runtime process registers no Ready node (the process runtime is not wired into the server)"
		t.Logf("%s: falling back to --runtime fake", c.noPods)
		c.s.stop()
		c.s = startServer(t, append(args, "--runtime", "fake")...)
		c.c = c.s.client()
		if !c.nodeReady(30 * time.Second) {
			t.Fatalf("node n1 not Ready with --runtime fake either")
		}
		c.noTraf = "pods are not processes (--runtime fake): " + c.noPods
	}
	t.Logf("kubectl %s, node IP %s, real pods %v", c.k.name, c.nodeIP, c.realPods)
	return c
}

func (c *ch9) nodeReady(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		n, err := c.c.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
		if err == nil {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					return true
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
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

// skip records a tutorial step this server cannot do, and prints it: nothing is skipped silently.
func (c *ch9) skip(name, why string) {
	c.t.Helper()
	msg := fmt.Sprintf("%s %s: %s", c.section, name, why)
	c.skipped = append(c.skipped, msg)
	fmt.Printf("chapter9: %s %s ... SKIPPED: %s\n", c.section, name, why)
}

// withTraffic runs fn, a step that sends requests through the Service, or skips it.
func (c *ch9) withTraffic(name string, fn func()) {
	c.t.Helper()
	if !c.traffic {
		c.skip(name, c.noTraf)
		return
	}
	c.step(name, fn)
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

// wantExactly fails unless out is exactly lines (regular expressions, one per line).
func (c *ch9) wantExactly(what, out string, lines ...string) {
	c.t.Helper()
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(got) != len(lines) {
		c.t.Fatalf("%s: %d lines, want %d:\n%s", what, len(got), len(lines), out)
	}
	c.want(what, out, lines...)
}

// eventually re-runs a kubectl command until its output satisfies ok, for a bounded time.
func (c *ch9) eventually(what string, timeout time.Duration, ok func(out string) bool, args ...string) string {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, _, err := c.sh(30*time.Second, args...)
		if err == nil && ok(out) {
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %s waiting for %s; last output of %s:\n%s", timeout, what, strings.Join(args, " "), out)
		}
		time.Sleep(250 * time.Millisecond)
	}
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

// waitNoPods waits until no pod has label app=kubia; without a garbage collector deleting a
// controller leaves its pods, which the test then deletes itself, saying so.
func (c *ch9) waitNoPods(after string) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	gcDeadline := time.Now().Add(20 * time.Second)
	for {
		list, err := c.c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=kubia"})
		if err == nil && len(list.Items) == 0 {
			return
		}
		if c.gc && time.Now().After(gcDeadline) && err == nil {
			orphans := 0
			for _, p := range list.Items {
				if p.DeletionTimestamp == nil {
					orphans++
				}
			}
			if orphans > 0 {
				c.gc = false
				c.skip("pods deleted with their controller after "+after, "no garbage collector in skiff server: the pods stay; the test deletes them with kubectl delete po -l app=kubia")
				c.run("kubectl", "delete", "po", "-l", "app=kubia", "--wait=false")
			}
		}
		if !c.gc && err == nil {
			for _, p := range list.Items {
				if p.DeletionTimestamp == nil {
					c.run("kubectl", "delete", "po", "-l", "app=kubia", "--wait=false")
					break
				}
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("pods with app=kubia still exist 60s after %s", after)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// probeTraffic decides, once pods and the kubia Service exist, whether requests reach them; the
// reason it does not is kept for the skip messages.
func (c *ch9) probeTraffic(wantPods int) {
	c.t.Helper()
	if !c.realPods {
		return
	}
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ep, err := c.c.CoreV1().Endpoints("default").Get(ctx, "kubia", metav1.GetOptions{})
		if err == nil {
			ready := 0
			for _, ss := range ep.Subsets {
				ready += len(ss.Addresses)
			}
			if ready == wantPods {
				break
			}
		}
		if time.Now().After(deadline) {
			c.noTraf = "the kubia Service gets no ready Endpoints (the endpoints controller is not wired into skiff server)"
			c.t.Logf("no traffic: %s", c.noTraf)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		if r := ch9Get(c.target()); r.err == "" {
			c.traffic = true
			return
		}
		if time.Now().After(deadline) {
			c.noTraf = "nothing answers on " + c.target() + " (the service proxy is not wired into skiff server)"
			c.t.Logf("no traffic: %s", c.noTraf)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
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

// curlUntil requests until every one of the last n answers is version v, for a bounded time.
func (c *ch9) curlUntil(v string, n int) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	run := 0
	var last ch9Answer
	for run < n {
		if time.Now().After(deadline) {
			c.t.Fatalf("the Service did not answer %s %d times in a row within 30s; last answer %+v", v, n, last)
		}
		last = ch9Get(c.target())
		if last.err == "" && last.version == v {
			run++
		} else {
			run = 0
			time.Sleep(50 * time.Millisecond)
		}
	}
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
		for range max {
			select {
			case <-l.stop:
				return
			default:
			}
			if time.Now().After(deadline) {
				return
			}
			a := ch9Get(c.target())
			l.mu.Lock()
			l.answers = append(l.answers, a)
			l.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
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
