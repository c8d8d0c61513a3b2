package agent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
}

func TestPodPhase(t *testing.T) {
	exited := func(code int32) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}
	}
	backoff := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: exited(1)}
	tests := []struct {
		name   string
		policy corev1.RestartPolicy
		status []corev1.ContainerStatus
		want   corev1.PodPhase
	}{
		{"not started yet", corev1.RestartPolicyAlways, []corev1.ContainerStatus{{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}, corev1.PodPending},
		{"running", corev1.RestartPolicyAlways, []corev1.ContainerStatus{{State: running()}}, corev1.PodRunning},
		{"crash looping is Running", corev1.RestartPolicyAlways, []corev1.ContainerStatus{backoff}, corev1.PodRunning},
		{"image pull error is Pending", corev1.RestartPolicyAlways, []corev1.ContainerStatus{{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}}}, corev1.PodPending},
		{"Never: exit 0 is Succeeded", corev1.RestartPolicyNever, []corev1.ContainerStatus{{State: exited(0)}}, corev1.PodSucceeded},
		{"Never: exit 1 is Failed", corev1.RestartPolicyNever, []corev1.ContainerStatus{{State: exited(1)}}, corev1.PodFailed},
		{"OnFailure: exit 0 is Succeeded", corev1.RestartPolicyOnFailure, []corev1.ContainerStatus{{State: exited(0)}}, corev1.PodSucceeded},
		{"OnFailure: exit 1 will restart", corev1.RestartPolicyOnFailure, []corev1.ContainerStatus{{State: exited(1)}}, corev1.PodRunning},
		{"one running one done", corev1.RestartPolicyNever, []corev1.ContainerStatus{{State: running()}, {State: exited(0)}}, corev1.PodRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: tt.policy}}
			for range tt.status {
				pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{})
			}
			if got := podPhase(pod, tt.status); got != tt.want {
				t.Errorf("phase %s, want %s", got, tt.want)
			}
		})
	}
}

func TestComputeStatus(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 10, 0, 0, 500, time.UTC)
	scheduled := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-time.Minute).Truncate(time.Second))}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "kubia", Generation: 1},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nodejs"}, {Name: "sidecar"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBestEffort, Conditions: []corev1.PodCondition{scheduled}},
	}
	view := podView{hostIP: "127.0.0.1", podIP: "127.64.0.2", startTime: t0, containers: []corev1.ContainerStatus{
		{Name: "nodejs", State: running(), Ready: true},
		{Name: "sidecar", State: running(), Ready: false},
	}}
	st := computeStatus(pod, view, t0)

	if st.Phase != corev1.PodRunning || st.PodIP != "127.64.0.2" || len(st.PodIPs) != 1 || st.HostIP != "127.0.0.1" || st.QOSClass != corev1.PodQOSBestEffort {
		t.Fatalf("status %+v", st)
	}
	if st.StartTime == nil || st.StartTime.Nanosecond() != 0 {
		t.Errorf("startTime %v, want whole seconds", st.StartTime)
	}
	cond := map[corev1.PodConditionType]corev1.PodCondition{}
	for _, c := range st.Conditions {
		cond[c.Type] = c
	}
	if c := cond[corev1.PodReady]; c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotReady" || c.Message != "containers with unready status: [sidecar]" {
		t.Errorf("Ready %+v", c)
	}
	if c := cond[corev1.PodScheduled]; !c.LastTransitionTime.Equal(&scheduled.LastTransitionTime) {
		t.Errorf("PodScheduled was not kept: %+v", c)
	}
	if c := cond[corev1.PodInitialized]; c.Status != corev1.ConditionTrue {
		t.Errorf("Initialized %+v", c)
	}

	// The sidecar turns ready later: Ready flips and its transition time moves; Initialized's stays.
	pod.Status = st
	view.containers[1].Ready = true
	t1 := t0.Add(5 * time.Second)
	st2 := computeStatus(pod, view, t1)
	for _, c := range st2.Conditions {
		switch c.Type {
		case corev1.PodReady:
			if c.Status != corev1.ConditionTrue || !c.LastTransitionTime.Time.Equal(t1.Truncate(time.Second)) {
				t.Errorf("Ready after the change %+v", c)
			}
		case corev1.PodInitialized:
			if !c.LastTransitionTime.Time.Equal(t0.Truncate(time.Second)) {
				t.Errorf("Initialized transition time moved: %+v", c)
			}
		}
	}

	// Deleting: not Ready any more, before any container stops.
	view.terminating = true
	st3 := computeStatus(pod, view, t1)
	for _, c := range st3.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionFalse {
			t.Errorf("terminating pod still Ready: %+v", c)
		}
	}
	for _, cs := range st3.ContainerStatuses {
		if cs.Ready {
			t.Errorf("terminating pod's container %s still ready", cs.Name)
		}
	}
}
