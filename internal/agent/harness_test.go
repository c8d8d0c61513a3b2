package agent

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-dev/skiff/internal/agent/images"
	"github.com/skiff-dev/skiff/internal/agent/runtimetest"
)

var _ Runtime = (*runtimetest.Runtime)(nil)

// t0 is when every harness's clock starts: a whole second, so that truncated status times equal
// the clock's.
var t0 = time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)

// harness runs an agent's pod workers against a fake clientset, an in-memory runtime and a fake
// clock, without the node registration and informers of Agent.Run: tests hand it pods as the
// informer would. It must be created inside a synctest bubble; settle waits until every worker,
// probe and status writer has done what it can without time passing.
type harness struct {
	t      *testing.T
	ctx    context.Context
	cancel context.CancelFunc // stops the agent
	clock  *clocktesting.FakeClock
	rt     *runtimetest.Runtime
	client *fake.Clientset
	a      *Agent

	events *record.FakeRecorder
	seen   []string // events drained from the recorder so far
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	rt := runtimetest.New(clk)
	client := fake.NewClientset(objs...)
	dir := t.TempDir()
	a, err := New(client, slog.New(slog.DiscardHandler), Options{
		NodeName: "node-1", NodeIP: net.IPv4(127, 0, 0, 1), DataDir: filepath.Join(dir, "data"),
		Images:  &images.Store{Root: filepath.Join(dir, "images"), Self: "/skiff"},
		Runtime: rt, Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clock: clk, rt: rt, client: client, a: a, events: record.NewFakeRecorder(10000)}
	a.recorder = h.events
	if a.ips, err = newIPPool("127.64.0.0/24"); err != nil {
		t.Fatal(err)
	}
	// No linger: statuses are written as soon as they are set.
	a.status = newStatusManager(client, a.log, 0, func(ns, name string) (*corev1.Pod, bool) {
		p, err := client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		return p, err == nil
	})

	ctx, cancel := context.WithCancel(t.Context())
	h.ctx, h.cancel, a.ctx = ctx, cancel, ctx
	var bg sync.WaitGroup
	bg.Go(func() { a.status.Run(ctx, 1) })
	t.Cleanup(func() {
		cancel()
		a.wg.Wait()
		bg.Wait()
	})
	return h
}

// stopAgent ends the agent's context, as Agent.Run's does, and waits for its pod workers.
func (h *harness) stopAgent() {
	h.cancel()
	h.a.wg.Wait()
}

// run creates pod in the API and hands it to the agent, as the pod informer does, then settles.
func (h *harness) run(pod *corev1.Pod) {
	h.t.Helper()
	created, err := h.client.CoreV1().Pods(pod.Namespace).Create(h.ctx, pod, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.a.podChanged(created)
	h.settle()
}

// update hands the agent a new version of pod (written to the API first), then settles.
func (h *harness) update(pod *corev1.Pod) {
	h.t.Helper()
	cur := h.pod(pod)
	pod = pod.DeepCopy()
	pod.Status = cur.Status
	updated, err := h.client.CoreV1().Pods(pod.Namespace).Update(h.ctx, pod, metav1.UpdateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.a.podChanged(updated)
	h.settle()
}

// settle waits until every goroutine of the bubble is blocked: the workers have synced what they
// were woken for, probes wait for their next period, statuses are written.
func (h *harness) settle() { synctest.Wait() }

// step advances the agent's clock by d and settles.
func (h *harness) step(d time.Duration) {
	h.clock.Step(d)
	h.settle()
}

// pod returns the API's version of pod.
func (h *harness) pod(pod *corev1.Pod) *corev1.Pod {
	h.t.Helper()
	p, err := h.client.CoreV1().Pods(pod.Namespace).Get(h.ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatalf("get pod %s: %v", pod.Name, err)
	}
	return p
}

// worker returns pod's worker, failing the test when it has none.
func (h *harness) worker(pod *corev1.Pod) *podWorker {
	h.t.Helper()
	h.a.mu.Lock()
	defer h.a.mu.Unlock()
	w := h.a.workers[pod.UID]
	if w == nil {
		h.t.Fatalf("no worker for pod %s", pod.Name)
	}
	return w
}

// container returns the status the API has for pod's container name.
func (h *harness) container(pod *corev1.Pod, name string) corev1.ContainerStatus {
	h.t.Helper()
	for _, cs := range h.pod(pod).Status.ContainerStatuses {
		if cs.Name == name {
			return cs
		}
	}
	h.t.Fatalf("pod %s has no status for container %s", pod.Name, name)
	return corev1.ContainerStatus{}
}

// condition returns the status of pod's condition typ as the API has it.
func (h *harness) condition(pod *corev1.Pod, typ corev1.PodConditionType) corev1.ConditionStatus {
	h.t.Helper()
	for _, c := range h.pod(pod).Status.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

// startedCommands lists the commands of every container started so far, in order.
func (h *harness) startedCommands() []string {
	var out []string
	for _, c := range h.rt.Starts() {
		out = append(out, c.Spec.Argv[0])
	}
	return out
}

// running returns the running instance of command, failing the test when there is none.
func (h *harness) running(command string) runtimetest.Container {
	h.t.Helper()
	c, ok := h.rt.Running(command)
	if !ok {
		h.t.Fatalf("no running container of %q; started: %v", command, h.startedCommands())
	}
	return c
}

// exit ends the running container of command with code and settles.
func (h *harness) exit(command string, code int) {
	h.t.Helper()
	if err := h.rt.Exit(command, code); err != nil {
		h.t.Fatal(err)
	}
	h.settle()
}

// recorded returns every event recorded so far ("Type Reason message").
func (h *harness) recorded() []string {
	for {
		select {
		case e := <-h.events.Events:
			h.seen = append(h.seen, e)
		default:
			return h.seen
		}
	}
}

// wantEvent fails the test unless an event starting with prefix was recorded.
func (h *harness) wantEvent(prefix string) {
	h.t.Helper()
	for _, e := range h.recorded() {
		if strings.HasPrefix(e, prefix) {
			return
		}
	}
	h.t.Errorf("no event %q among %q", prefix, h.recorded())
}

// testPod is a pod bound to the harness's node, restartPolicy Always, with the containers given.
func testPod(name string, containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{NodeName: "node-1", RestartPolicy: corev1.RestartPolicyAlways,
			Containers: containers},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
}

// testContainer is a container of a built-in image whose command is its name, so that the
// runtime knows it by that name.
func testContainer(name string, opts ...func(*corev1.Container)) corev1.Container {
	c := corev1.Container{Name: name, Image: "luksa/kubia:v1", Command: []string{name}}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func execHandler(argv ...string) corev1.ProbeHandler {
	return corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: argv}}
}

func int64p(v int64) *int64 { return &v }
