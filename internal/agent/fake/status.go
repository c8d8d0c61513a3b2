package fake

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// runningStatus returns pod's status once all its containers run: phase
// Running, every condition True, each container started and ready, init
// containers completed (sidecars running). Times already set are kept, so
// writing it twice changes nothing.
func runningStatus(pod *v1.Pod, podIP, hostIP string, now metav1.Time) v1.PodStatus {
	s := *pod.Status.DeepCopy()
	s.Phase = v1.PodRunning
	s.Reason, s.Message = "", ""
	s.HostIP, s.HostIPs = hostIP, []v1.HostIP{{IP: hostIP}}
	s.PodIP, s.PodIPs = podIP, []v1.PodIP{{IP: podIP}}
	if s.StartTime == nil {
		s.StartTime = &now
	}
	for _, t := range []v1.PodConditionType{
		v1.PodReadyToStartContainers, v1.PodInitialized, v1.PodReady, v1.ContainersReady, v1.PodScheduled,
	} {
		s.Conditions = setCondition(s.Conditions, t, now)
	}
	started := s.StartTime

	s.InitContainerStatuses = make([]v1.ContainerStatus, 0, len(pod.Spec.InitContainers))
	for _, c := range pod.Spec.InitContainers {
		cs := containerStatus(pod, &c, true, *started)
		if c.RestartPolicy == nil || *c.RestartPolicy != v1.ContainerRestartPolicyAlways {
			no := false
			cs.Ready, cs.Started = true, &no
			cs.State = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: *started, FinishedAt: *started,
				ContainerID: cs.ContainerID,
			}}
		}
		s.InitContainerStatuses = append(s.InitContainerStatuses, cs)
	}
	if len(s.InitContainerStatuses) == 0 {
		s.InitContainerStatuses = nil
	}
	s.ContainerStatuses = make([]v1.ContainerStatus, 0, len(pod.Spec.Containers))
	for _, c := range pod.Spec.Containers {
		s.ContainerStatuses = append(s.ContainerStatuses, containerStatus(pod, &c, true, *started))
	}
	return s
}

func containerStatus(pod *v1.Pod, c *v1.Container, ready bool, started metav1.Time) v1.ContainerStatus {
	yes := true
	digest := sha256.Sum256([]byte(c.Image))
	return v1.ContainerStatus{
		Name:         c.Name,
		Image:        c.Image,
		ImageID:      c.Image + "@sha256:" + hex.EncodeToString(digest[:]),
		ContainerID:  fmt.Sprintf("fake://%s/%s", pod.UID, c.Name),
		State:        v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: started}},
		Ready:        ready,
		Started:      &yes,
		RestartCount: 0,
	}
}

// setCondition sets condition t to True, keeping its transition time if it
// already was True.
func setCondition(conds []v1.PodCondition, t v1.PodConditionType, now metav1.Time) []v1.PodCondition {
	for i := range conds {
		if conds[i].Type != t {
			continue
		}
		if conds[i].Status != v1.ConditionTrue {
			conds[i] = v1.PodCondition{Type: t, Status: v1.ConditionTrue, LastTransitionTime: now}
		}
		return conds
	}
	return append(conds, v1.PodCondition{Type: t, Status: v1.ConditionTrue, LastTransitionTime: now})
}

// isRunning reports whether pod already shows what runningStatus writes.
func isRunning(pod *v1.Pod) bool {
	s := &pod.Status
	if s.Phase != v1.PodRunning || s.PodIP == "" || len(s.ContainerStatuses) != len(pod.Spec.Containers) {
		return false
	}
	for _, c := range s.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// nodeConditions returns the conditions of a healthy kubelet, worded as the
// kubelet words them; transition times of unchanged conditions are kept.
func nodeConditions(old []v1.NodeCondition, now metav1.Time) []v1.NodeCondition {
	want := []v1.NodeCondition{
		{Type: v1.NodeMemoryPressure, Status: v1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: v1.NodeDiskPressure, Status: v1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: v1.NodePIDPressure, Status: v1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	for i := range want {
		want[i].LastHeartbeatTime = now
		want[i].LastTransitionTime = now
		for _, o := range old {
			if o.Type == want[i].Type && o.Status == want[i].Status {
				want[i].LastTransitionTime = o.LastTransitionTime
			}
		}
	}
	return want
}
