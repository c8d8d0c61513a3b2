package registry

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// Pod fixture builders.

func tablePod(containers int, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: tableAgo(10 * time.Minute)}}
	for range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c", Image: "nginx"})
	}
	p.Status.Phase = corev1.PodRunning
	for _, m := range mutate {
		m(p)
	}
	return p
}

func csRunning(ready bool) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "c", Ready: ready,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: tableAgo(time.Minute)}}}
}

func csWaiting(reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "c", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func csTerminated(reason string, exitCode, signal int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		Reason: reason, ExitCode: exitCode, Signal: signal}}}
}

// csRestarted records n restarts, the last run having finished d ago.
func csRestarted(cs corev1.ContainerStatus, n int32, d time.Duration) corev1.ContainerStatus {
	cs.RestartCount = n
	cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: tableAgo(d)}
	return cs
}

func withContainerStatuses(cs ...corev1.ContainerStatus) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Status.ContainerStatuses = cs }
}

// withInitContainers adds init containers named i0, i1, ... (sidecars restartable) with their statuses.
func withInitContainers(sidecar []bool, cs ...corev1.ContainerStatus) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		always := corev1.ContainerRestartPolicyAlways
		for i, s := range sidecar {
			c := corev1.Container{Name: "i" + string(rune('0'+i))}
			if s {
				c.RestartPolicy = &always
			}
			p.Spec.InitContainers = append(p.Spec.InitContainers, c)
		}
		for i := range cs {
			cs[i].Name = "i" + string(rune('0'+i))
		}
		p.Status.InitContainerStatuses = cs
	}
}

func withPodCondition(t corev1.PodConditionType, s corev1.ConditionStatus, reason string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: s, Reason: reason})
	}
}

func inPhase(ph corev1.PodPhase) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}

func beingDeleted(p *corev1.Pod) {
	ts := tableAgo(time.Second)
	p.DeletionTimestamp = &ts
}

func TestPodRowReadyStatusRestarts(t *testing.T) {
	started := true
	startedSidecar := func(ready bool) corev1.ContainerStatus {
		cs := csRunning(ready)
		cs.Started = &started
		return cs
	}
	tests := []struct {
		name                    string
		pod                     *corev1.Pod
		ready, status, restarts string
	}{
		{name: "running pod with its container ready prints Running 1/1",
			pod:   tablePod(1, withContainerStatuses(csRunning(true))),
			ready: "1/1", status: "Running", restarts: "0"},
		{name: "running container not yet ready counts as not ready",
			pod:   tablePod(2, withContainerStatuses(csRunning(true), csRunning(false))),
			ready: "1/2", status: "Running", restarts: "0"},
		{name: "pending pod without statuses prints Pending",
			pod:   tablePod(1, inPhase(corev1.PodPending)),
			ready: "0/1", status: "Pending", restarts: "0"},
		{name: "pod creating its container prints ContainerCreating",
			pod:   tablePod(1, inPhase(corev1.PodPending), withContainerStatuses(csWaiting("ContainerCreating"))),
			ready: "0/1", status: "ContainerCreating", restarts: "0"},
		{name: "pod waiting in CrashLoopBackOff prints CrashLoopBackOff",
			pod:   tablePod(1, withContainerStatuses(csRestarted(csWaiting("CrashLoopBackOff"), 3, 5*time.Minute))),
			ready: "0/1", status: "CrashLoopBackOff", restarts: "3 (5m ago)"},
		{name: "image pull failure prints ErrImagePull",
			pod:   tablePod(1, inPhase(corev1.PodPending), withContainerStatuses(csWaiting("ErrImagePull"))),
			ready: "0/1", status: "ErrImagePull", restarts: "0"},
		{name: "restarts without a last termination print the bare count",
			pod:   tablePod(1, withContainerStatuses(corev1.ContainerStatus{RestartCount: 2, Ready: true, State: csRunning(true).State})),
			ready: "1/1", status: "Running", restarts: "2"},
		{name: "restarts of all containers add up, the latest termination dates them",
			pod:   tablePod(2, withContainerStatuses(csRestarted(csRunning(true), 1, time.Hour), csRestarted(csRunning(true), 2, 90*time.Second))),
			ready: "2/2", status: "Running", restarts: "3 (90s ago)"},
		{name: "OOM-killed container prints OOMKilled",
			pod:   tablePod(1, withContainerStatuses(csTerminated("OOMKilled", 137, 0))),
			ready: "0/1", status: "OOMKilled", restarts: "0"},
		{name: "terminated container without reason prints its signal",
			pod:   tablePod(1, withContainerStatuses(csTerminated("", 0, 9))),
			ready: "0/1", status: "Signal:9", restarts: "0"},
		{name: "terminated container without reason or signal prints its exit code",
			pod:   tablePod(1, withContainerStatuses(csTerminated("", 2, 0))),
			ready: "0/1", status: "ExitCode:2", restarts: "0"},
		{name: "the first container's reason wins",
			pod:   tablePod(2, withContainerStatuses(csWaiting("ErrImagePull"), csWaiting("CrashLoopBackOff"))),
			ready: "0/2", status: "ErrImagePull", restarts: "0"},
		{name: "succeeded pod prints Completed",
			pod:   tablePod(1, inPhase(corev1.PodSucceeded), withContainerStatuses(csTerminated("Completed", 0, 0))),
			ready: "0/1", status: "Completed", restarts: "0"},
		{name: "completed container beside a running one prints Running when the pod is ready",
			pod: tablePod(2, withContainerStatuses(csRunning(true), csTerminated("Completed", 0, 0)),
				withPodCondition(corev1.PodReady, corev1.ConditionTrue, "")),
			ready: "1/2", status: "Running", restarts: "0"},
		{name: "completed container beside a running one prints NotReady when the pod is not ready",
			pod:   tablePod(2, withContainerStatuses(csRunning(true), csTerminated("Completed", 0, 0))),
			ready: "1/2", status: "NotReady", restarts: "0"},
		{name: "evicted pod prints its status reason",
			pod:   tablePod(1, inPhase(corev1.PodFailed), func(p *corev1.Pod) { p.Status.Reason = "Evicted" }),
			ready: "0/1", status: "Evicted", restarts: "0"},
		{name: "pod held by scheduling gates prints SchedulingGated",
			pod: tablePod(1, inPhase(corev1.PodPending),
				withPodCondition(corev1.PodScheduled, corev1.ConditionFalse, corev1.PodReasonSchedulingGated)),
			ready: "0/1", status: "SchedulingGated", restarts: "0"},
		{name: "terminating pod prints Terminating",
			pod:   tablePod(1, withContainerStatuses(csRunning(true)), beingDeleted),
			ready: "1/1", status: "Terminating", restarts: "0"},
		{name: "deleted pod that already succeeded keeps Completed",
			pod:   tablePod(1, inPhase(corev1.PodSucceeded), withContainerStatuses(csTerminated("Completed", 0, 0)), beingDeleted),
			ready: "0/1", status: "Completed", restarts: "0"},
		{name: "deleted pod on a lost node prints Unknown",
			pod: tablePod(1, withContainerStatuses(csRunning(true)), beingDeleted,
				func(p *corev1.Pod) { p.Status.Reason = nodeLostReason }),
			ready: "1/1", status: "Unknown", restarts: "0"},
		{name: "pod on a lost node not being deleted prints NodeLost",
			pod:   tablePod(1, func(p *corev1.Pod) { p.Status.Reason = nodeLostReason }),
			ready: "0/1", status: "NodeLost", restarts: "0"},
		{name: "first of two init containers running prints Init:0/2",
			pod: tablePod(1, inPhase(corev1.PodPending), withContainerStatuses(csWaiting("PodInitializing")),
				withInitContainers([]bool{false, false}, csRunning(false), csWaiting("PodInitializing"))),
			ready: "0/1", status: "Init:0/2", restarts: "0"},
		{name: "second init container running prints Init:1/2",
			pod: tablePod(1, inPhase(corev1.PodPending),
				withInitContainers([]bool{false, false}, csTerminated("Completed", 0, 0), csRunning(false))),
			ready: "0/1", status: "Init:1/2", restarts: "0"},
		{name: "crash-looping init container prints Init:CrashLoopBackOff with its restarts",
			pod: tablePod(1, inPhase(corev1.PodPending), withContainerStatuses(csRestarted(csWaiting("PodInitializing"), 7, time.Hour)),
				withInitContainers([]bool{false}, csRestarted(csWaiting("CrashLoopBackOff"), 4, 2*time.Minute))),
			ready: "0/1", status: "Init:CrashLoopBackOff", restarts: "4 (2m ago)"},
		{name: "failed init container without reason prints Init:ExitCode:1",
			pod:   tablePod(1, inPhase(corev1.PodPending), withInitContainers([]bool{false}, csTerminated("", 1, 0))),
			ready: "0/1", status: "Init:ExitCode:1", restarts: "0"},
		{name: "init container killed by a signal prints Init:Signal:9",
			pod:   tablePod(1, inPhase(corev1.PodPending), withInitContainers([]bool{false}, csTerminated("", 137, 9))),
			ready: "0/1", status: "Init:Signal:9", restarts: "0"},
		{name: "failed init container with a reason prints Init:Error",
			pod:   tablePod(1, inPhase(corev1.PodFailed), withInitContainers([]bool{false}, csTerminated("Error", 1, 0))),
			ready: "0/1", status: "Init:Error", restarts: "0"},
		{name: "started sidecar counts in READY and lets the pod run",
			pod: tablePod(1, withContainerStatuses(csRestarted(csRunning(true), 1, 3*time.Minute)),
				withInitContainers([]bool{true}, csRestarted(startedSidecar(true), 2, 4*time.Minute))),
			ready: "2/2", status: "Running", restarts: "3 (3m ago)"},
		{name: "sidecar not yet started holds up initialization",
			pod:   tablePod(1, inPhase(corev1.PodPending), withInitContainers([]bool{true, false}, csRunning(false))),
			ready: "0/2", status: "Init:0/2", restarts: "0"},
		{name: "plain init container restarts stop counting once initialized",
			pod: tablePod(1, withContainerStatuses(csRunning(true)),
				withInitContainers([]bool{false}, csRestarted(csTerminated("Completed", 0, 0), 5, time.Hour))),
			ready: "1/1", status: "Running", restarts: "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cells := podRow(tt.pod, tableNow())
			got := struct{ ready, status, restarts interface{} }{cells[1], cells[2], cells[3]}
			want := struct{ ready, status, restarts interface{} }{tt.ready, tt.status, tt.restarts}
			if got != want {
				t.Errorf("READY/STATUS/RESTARTS = %v/%v/%v, want %v/%v/%v",
					got.ready, got.status, got.restarts, want.ready, want.status, want.restarts)
			}
		})
	}
}

func TestPodRowWideColumns(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want []interface{}
	}{
		{name: "unscheduled pod prints <none> for IP, node and gates",
			pod:  tablePod(1, inPhase(corev1.PodPending)),
			want: []interface{}{"web", "0/1", "Pending", "0", "10m", "<none>", "<none>", "<none>", "<none>"}},
		{name: "scheduled pod prints its IP, node, nominated node and passing readiness gates",
			pod: tablePod(1, withContainerStatuses(csRunning(true)), func(p *corev1.Pod) {
				p.Spec.NodeName = "node-1"
				p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.7"}, {IP: "fd00::7"}}
				p.Status.NominatedNodeName = "node-2"
				p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}, {ConditionType: "example.com/dns"}}
			}, withPodCondition("example.com/lb", corev1.ConditionTrue, ""), withPodCondition("example.com/dns", corev1.ConditionFalse, "")),
			want: []interface{}{"web", "1/1", "Running", "0", "10m", "10.0.0.7", "node-1", "node-2", "1/2"}},
		{name: "status.podIP wins over podIPs",
			pod: tablePod(1, func(p *corev1.Pod) {
				p.Status.PodIP = "10.0.0.9"
				p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.8"}}
			}),
			want: []interface{}{"web", "0/1", "Running", "0", "10m", "10.0.0.9", "<none>", "<none>", "<none>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCells(t, podRow(tt.pod, tableNow()), tt.want)
		})
	}
}

func TestPodFields(t *testing.T) {
	pod := tablePod(1, func(p *corev1.Pod) {
		p.Spec.NodeName = "node-1"
		p.Spec.RestartPolicy = corev1.RestartPolicyAlways
		p.Spec.SchedulerName = "default-scheduler"
		p.Spec.ServiceAccountName = "default"
		p.Spec.HostNetwork = true
		p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.7"}}
		p.Status.NominatedNodeName = "node-2"
	})
	want := fields.Set{
		"spec.nodeName":            "node-1",
		"spec.restartPolicy":       "Always",
		"spec.schedulerName":       "default-scheduler",
		"spec.serviceAccountName":  "default",
		"spec.hostNetwork":         "true",
		"status.phase":             "Running",
		"status.podIP":             "10.0.0.7",
		"status.nominatedNodeName": "node-2",
	}
	if got := podFields(pod); got.String() != want.String() {
		t.Errorf("fields = %v, want %v", got, want)
	}
	if got := podFields(tablePod(1))["spec.hostNetwork"]; got != "false" {
		t.Errorf("spec.hostNetwork of a pod network pod = %q, want false", got)
	}
}
