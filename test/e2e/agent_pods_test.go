package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const kubiaDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubia
spec:
  replicas: %d
  template:
    metadata:
      name: kubia
      labels:
        app: kubia
    spec:
      containers:
      - image: luksa/kubia:v1
        name: nodejs
  selector:
    matchLabels:
      app: kubia
`

// TestAgentKubiaDeployment applies the chapter's Deployment: three Running, Ready pods, each a
// process answering on its own pod IP, with logs.
func TestAgentKubiaDeployment(t *testing.T) {
	t.Parallel()
	s, _ := startAgentServer(t)
	c := s.client()
	if _, errOut, err := s.run(builtinKubectl(), fmt.Sprintf(kubiaDeployment, 3), "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, errOut)
	}
	var pods []corev1.Pod
	eventually(t, 60*time.Second, "3 kubia pods Ready", func() bool {
		pods = podsReady(c, "app=kubia")
		return len(pods) == 3
	})
	seen := map[string]bool{}
	for _, p := range pods {
		if p.Status.PodIP == "" || seen[p.Status.PodIP] || !strings.HasPrefix(p.Status.PodIP, "127.") {
			t.Fatalf("pod %s has IP %q (seen %v)", p.Name, p.Status.PodIP, seen)
		}
		seen[p.Status.PodIP] = true
		if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != 1 {
			t.Fatalf("pod %s: phase %s, %d container statuses", p.Name, p.Status.Phase, len(p.Status.ContainerStatuses))
		}
		cs := p.Status.ContainerStatuses[0]
		if cs.State.Running == nil || !cs.Ready || !strings.HasPrefix(cs.ContainerID, "skiff://") || cs.ImageID == "" || cs.Started == nil || !*cs.Started {
			t.Errorf("pod %s container status %+v", p.Name, cs)
		}
		var code int
		var body string
		eventually(t, 10*time.Second, "pod "+p.Name+" answering", func() bool {
			var err error
			code, body, err = httpGet(p.Status.PodIP + ":8080")
			return err == nil
		})
		if want := "This is v1 running in pod " + p.Name + "\n"; code != 200 || body != want {
			t.Errorf("pod %s answered %d %q, want %q", p.Name, code, body, want)
		}
		// The agent copies the container's output to its log file in the background: the line
		// for the request just answered reaches the file a moment after the answer.
		var out string
		eventually(t, 10*time.Second, "the request in the logs of "+p.Name, func() bool {
			out = s.must(builtinKubectl(), "logs", p.Name)
			return strings.Contains(out, "Received request from")
		})
		if !strings.Contains(out, "Kubia server starting...") {
			t.Errorf("kubectl logs %s:\n%s", p.Name, out)
		}
	}
	out := s.must(builtinKubectl(), "get", "nodes", "-o", "wide")
	if !strings.Contains(out, "Ready") || !strings.Contains(out, "n1") {
		t.Errorf("kubectl get nodes:\n%s", out)
	}
}

// TestAgentCrashLoopBackOff: a container that exits is restarted with back-off, restartCount
// grows and its status says CrashLoopBackOff with the last exit.
func TestAgentCrashLoopBackOff(t *testing.T) {
	t.Parallel()
	s, _ := startAgentServer(t)
	c := s.client()
	createPod(t, c, shPod("crasher", "echo dying; exit 3"))
	var sawBackOff bool
	eventually(t, 60*time.Second, "two restarts and CrashLoopBackOff", func() bool {
		p := getPod(t, c, "crasher")
		if len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		cs := p.Status.ContainerStatuses[0]
		if cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" {
			sawBackOff = true
			if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 3 || lt.Reason != "Error" {
				t.Fatalf("lastState %+v, want terminated with exit code 3", cs.LastTerminationState)
			}
		}
		return sawBackOff && cs.RestartCount >= 2
	})
	if out := s.must(builtinKubectl(), "logs", "crasher", "--previous"); !strings.Contains(out, "dying") {
		t.Errorf("kubectl logs --previous: %q", out)
	}
	// The agent records Events in the background: the status can be written before them.
	eventually(t, 30*time.Second, "a BackOff event", func() bool {
		for _, e := range eventsFor(t, c, "crasher") {
			if e.Reason == "BackOff" && strings.Contains(e.Message, "Back-off restarting failed container main in pod crasher") {
				return true
			}
		}
		return false
	})
}

// TestAgentLivenessRestarts: kubia-unhealthy fails its liveness probe from the sixth request on
// and is restarted; the Unhealthy events say why.
func TestAgentLivenessRestarts(t *testing.T) {
	t.Parallel()
	s, _ := startAgentServer(t)
	c := s.client()
	createPod(t, c, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "kubia-liveness"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "kubia", Image: "luksa/kubia-unhealthy",
			LivenessProbe: &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 2,
				ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}}},
		}}},
	})
	eventually(t, 60*time.Second, "a liveness restart", func() bool {
		p := getPod(t, c, "kubia-liveness")
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	var unhealthy, killing bool
	eventually(t, 10*time.Second, "Unhealthy and Killing events", func() bool {
		for _, e := range eventsFor(t, c, "kubia-liveness") {
			unhealthy = unhealthy || (e.Reason == "Unhealthy" && e.Message == "Liveness probe failed: HTTP probe failed with statuscode: 500")
			killing = killing || (e.Reason == "Killing" && e.Message == "Container kubia failed liveness probe, will be restarted")
		}
		return unhealthy && killing
	})
	out := s.must(builtinKubectl(), "describe", "pod", "kubia-liveness")
	if !strings.Contains(out, "Liveness probe failed: HTTP probe failed with statuscode: 500") {
		t.Errorf("kubectl describe lacks the probe failure:\n%s", out)
	}
}

// TestAgentReadinessFailure: kubia v3 with a readiness probe turns not Ready after its fifth
// request, without a restart.
func TestAgentReadinessFailure(t *testing.T) {
	t.Parallel()
	s, _ := startAgentServer(t)
	c := s.client()
	createPod(t, c, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "kubia-v3"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "nodejs", Image: "luksa/kubia:v3",
			ReadinessProbe: &corev1.Probe{PeriodSeconds: 1,
				ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}}},
		}}},
	})
	eventually(t, 30*time.Second, "kubia-v3 Ready", func() bool { return podReady(getPod(t, c, "kubia-v3")) })
	eventually(t, 30*time.Second, "kubia-v3 not Ready", func() bool { return !podReady(getPod(t, c, "kubia-v3")) })
	p := getPod(t, c, "kubia-v3")
	if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 0 || cs.State.Running == nil || cs.Ready {
		t.Errorf("container status %+v, want running, not ready, no restarts", cs)
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady && (cond.Reason != "ContainersNotReady" || cond.Message != "containers with unready status: [nodejs]") {
			t.Errorf("Ready condition %+v", cond)
		}
	}
}

// TestAgentLogsFollow: kubectl logs -f streams lines as the container writes them.
func TestAgentLogsFollow(t *testing.T) {
	t.Parallel()
	s, _ := startAgentServer(t)
	c := s.client()
	createPod(t, c, shPod("ticker", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"))
	eventually(t, 30*time.Second, "ticker running", func() bool { return podReady(getPod(t, c, "ticker")) })

	cmd := exec.Command(skiffBin, "kubectl", "logs", "-f", "ticker")
	cmd.Env = append(cmd.Environ(), "KUBECONFIG="+s.kubeconfig, "HOME="+s.home)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// The pod started before kubectl: lines written after it started must arrive too.
	deadline := time.After(20 * time.Second)
	var got []string
	for len(got) < 15 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl logs -f ended after %v", got)
			}
			got = append(got, l)
		case <-deadline:
			t.Fatalf("kubectl logs -f streamed only %v", got)
		}
	}
	if got[0] != "tick 0" || !strings.HasPrefix(got[14], "tick ") {
		t.Errorf("streamed %v", got)
	}
	if tail := s.must(builtinKubectl(), "logs", "ticker", "--tail", "2", "--timestamps"); len(strings.Split(strings.TrimSpace(tail), "\n")) != 2 || !strings.Contains(tail, "Z tick ") {
		t.Errorf("kubectl logs --tail 2 --timestamps:\n%s", tail)
	}
}

// TestAgentDeleteStopsProcess: deleting a pod stops its process (SIGTERM) within the grace
// period, and the pod disappears.
func TestAgentDeleteStopsProcess(t *testing.T) {
	t.Parallel()
	s, _ := startAgentServer(t)
	c := s.client()
	marker := uniqueMarker(t)
	grace := int64(20)
	createPod(t, c, shPod("graceful", "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done # "+marker,
		func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = &grace }))
	eventually(t, 30*time.Second, "pod running", func() bool { return podReady(getPod(t, c, "graceful")) })
	if len(processesWith(marker)) == 0 {
		t.Fatal("no process for the pod")
	}
	start := time.Now()
	if err := c.CoreV1().Pods("default").Delete(context.Background(), "graceful", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "pod gone from the API", func() bool {
		_, err := c.CoreV1().Pods("default").Get(context.Background(), "graceful", metav1.GetOptions{})
		return err != nil
	})
	if pids := processesWith(marker); len(pids) != 0 {
		t.Errorf("processes left after the pod was deleted: %v", pids)
	}
	t.Logf("pod deleted and stopped in %s (grace %ds; it exits on SIGTERM)", time.Since(start).Round(time.Millisecond), grace)
}

// TestAgentNoStrayProcesses: neither stopping the server nor killing it with SIGKILL leaves a
// pod's processes behind, grandchildren included.
func TestAgentNoStrayProcesses(t *testing.T) {
	t.Parallel()
	s, _ := startAgentServer(t)
	c := s.client()
	marker := uniqueMarker(t)
	// sh starts a grandchild (sleep) that PR_SET_PDEATHSIG alone would not take down.
	createPod(t, c, shPod("family", "sleep 1000 & wait", func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "E2E_MARKER", Value: marker}}
	}))
	eventually(t, 30*time.Second, "pod and its grandchild running", func() bool { return len(processesWith(marker)) >= 2 })

	s.stop()
	if pids := processesWith(marker); len(pids) != 0 {
		t.Fatalf("processes left after SIGTERM to the server: %v", pids)
	}
	s.start()
	c = s.client()
	eventually(t, 30*time.Second, "pod restarted by the new agent", func() bool { return len(processesWith(marker)) >= 2 })
	// the restart count the next agent continues from is what the API holds: wait until this
	// agent has written it, or a kill racing its status write would lose the count
	eventually(t, 30*time.Second, "restart recorded in the pod's status", func() bool {
		p := getPod(t, c, "family")
		return podReady(p) && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	before := processesWith(marker)

	s.kill()
	s.start()
	c = s.client() // a new port
	eventually(t, 30*time.Second, "the killed agent's processes gone", func() bool {
		for _, pid := range before {
			if alive(pid, marker) {
				return false
			}
		}
		return true
	})
	var last *corev1.Pod
	defer func() {
		if t.Failed() && last != nil {
			t.Logf("last status of pod family: phase %s, containers %+v", last.Status.Phase, last.Status.ContainerStatuses)
		}
	}()
	eventually(t, 30*time.Second, "pod running again", func() bool {
		last = getPod(t, c, "family")
		return podReady(last) && len(last.Status.ContainerStatuses) > 0 && last.Status.ContainerStatuses[0].RestartCount >= 2
	})
	s.stop()
	if pids := processesWith(marker); len(pids) != 0 {
		t.Errorf("processes left after the final stop: %v", pids)
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// TestAgentImageNotFound: an unknown image leaves the container waiting with ErrImagePull or
// ImagePullBackOff and a message saying how to import it.
func TestAgentImageNotFound(t *testing.T) {
	t.Parallel()
	s, _ := startAgentServer(t)
	c := s.client()
	createPod(t, c, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "noimage"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/nothing:1"}}}})
	eventually(t, 30*time.Second, "ErrImagePull", func() bool {
		p := getPod(t, c, "noimage")
		if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return false
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff") && strings.Contains(w.Message, "skiff image import example/nothing:1")
	})
	if p := getPod(t, c, "noimage"); p.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending", p.Status.Phase)
	}
}
