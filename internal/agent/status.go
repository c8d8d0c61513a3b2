package agent

import (
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons and messages kubelets use in pod and container status.
const (
	reasonContainerCreating  = "ContainerCreating"
	reasonCrashLoopBackOff   = "CrashLoopBackOff"
	reasonErrImagePull       = "ErrImagePull"
	reasonImagePullBackOff   = "ImagePullBackOff"
	reasonErrImageNeverPull  = "ErrImageNeverPull"
	reasonConfigError        = "CreateContainerConfigError"
	reasonStartError         = "StartError"
	reasonContainersNotReady = "ContainersNotReady"
	reasonPodCompleted       = "PodCompleted"
)

// podView is what the agent knows of a pod's containers, the input of computeStatus.
type podView struct {
	hostIP     string
	podIP      string
	startTime  time.Time
	containers []corev1.ContainerStatus // in spec order
	// terminating: the pod is being deleted and must not be Ready any more.
	terminating bool
}

// computeStatus returns the status the agent reports for pod: old status fields it does not own
// are kept, conditions it owns are recomputed, and a condition's lastTransitionTime changes only
// when its status does. Times are whole seconds, as the API stores them.
func computeStatus(pod *corev1.Pod, v podView, now time.Time) corev1.PodStatus {
	st := *pod.Status.DeepCopy()
	st.HostIP = v.hostIP
	st.HostIPs = nil
	if v.hostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: v.hostIP}}
	}
	st.PodIP = v.podIP
	st.PodIPs = nil
	if v.podIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: v.podIP}}
	}
	if !v.startTime.IsZero() && st.StartTime == nil {
		t := metav1.NewTime(v.startTime.Truncate(time.Second))
		st.StartTime = &t
	}
	st.ContainerStatuses = v.containers
	if v.terminating {
		st.ContainerStatuses = make([]corev1.ContainerStatus, len(v.containers))
		for i, cs := range v.containers {
			cs.Ready = false
			st.ContainerStatuses[i] = cs
		}
	}
	st.Phase = podPhase(pod, st.ContainerStatuses)
	st.ObservedGeneration = pod.Generation

	ready := readyCondition(pod, st.Phase, st.ContainerStatuses)
	nowT := metav1.NewTime(now.Truncate(time.Second))
	conds := []corev1.PodCondition{
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
		{Type: corev1.PodReady, Status: ready.Status, Reason: ready.Reason, Message: ready.Message},
		{Type: corev1.ContainersReady, Status: ready.Status, Reason: ready.Reason, Message: ready.Message},
	}
	if v.terminating {
		// The pod leaves its Services' endpoints before any container gets SIGTERM.
		for i := 1; i < 3; i++ {
			conds[i].Status, conds[i].Reason, conds[i].Message = corev1.ConditionFalse, "", ""
		}
	}
	st.Conditions = mergeConditions(pod.Status.Conditions, conds, nowT, pod.Generation)
	return st
}

// mergeConditions sets the owned conditions in old (keeping their lastTransitionTime when the
// status is unchanged) and keeps everyone else's (PodScheduled, DisruptionTarget, ...).
func mergeConditions(old, owned []corev1.PodCondition, now metav1.Time, generation int64) []corev1.PodCondition {
	out := make([]corev1.PodCondition, 0, len(old)+len(owned))
	seen := map[corev1.PodConditionType]bool{}
	for _, c := range owned {
		c.ObservedGeneration = generation
		c.LastTransitionTime = now
		for _, o := range old {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		out = append(out, c)
		seen[c.Type] = true
	}
	for _, o := range old {
		if !seen[o.Type] {
			out = append(out, o)
		}
	}
	if !seen[corev1.PodScheduled] {
		has := false
		for _, c := range out {
			has = has || c.Type == corev1.PodScheduled
		}
		if !has {
			out = append(out, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now})
		}
	}
	return out
}

// podPhase is the pod's phase from its containers, as kubelets compute it: Pending until every
// container has started at least once, Running while any runs (or will be restarted),
// Succeeded or Failed once all have terminated for good.
func podPhase(pod *corev1.Pod, statuses []corev1.ContainerStatus) corev1.PodPhase {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return pod.Status.Phase // terminal phases are final
	}
	var running, waiting, stopped, succeeded int
	for _, cs := range statuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.State.Waiting != nil:
			if cs.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			waiting++
		}
	}
	if len(statuses) < len(pod.Spec.Containers) {
		waiting += len(pod.Spec.Containers) - len(statuses)
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0:
		switch pod.Spec.RestartPolicy {
		case corev1.RestartPolicyAlways:
			return corev1.PodRunning
		case corev1.RestartPolicyOnFailure:
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			return corev1.PodRunning
		default:
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			return corev1.PodFailed
		}
	}
	return corev1.PodPending
}

// readyCondition is the Ready (and ContainersReady) condition for the containers' readiness.
func readyCondition(pod *corev1.Pod, phase corev1.PodPhase, statuses []corev1.ContainerStatus) corev1.PodCondition {
	c := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
	if phase == corev1.PodSucceeded {
		c.Status, c.Reason = corev1.ConditionFalse, reasonPodCompleted
		return c
	}
	var unready, unknown []string
	have := map[string]bool{}
	for _, cs := range statuses {
		have[cs.Name] = true
		if !cs.Ready {
			unready = append(unready, cs.Name)
		}
	}
	for _, ctr := range pod.Spec.Containers {
		if !have[ctr.Name] {
			unknown = append(unknown, ctr.Name)
		}
	}
	sort.Strings(unready)
	var msg string
	if len(unknown) > 0 {
		msg = fmt.Sprintf("containers with unknown status: %s", unknown)
	}
	if len(unready) > 0 {
		if msg != "" {
			msg += ", "
		}
		msg += fmt.Sprintf("containers with unready status: %s", unready)
	}
	if msg != "" {
		c.Status, c.Reason, c.Message = corev1.ConditionFalse, reasonContainersNotReady, msg
	}
	return c
}

// truncTime is t in whole seconds as a metav1.Time (nil-safe for zero).
func truncTime(t time.Time) metav1.Time {
	if t.IsZero() {
		return metav1.Time{}
	}
	return metav1.NewTime(t.Truncate(time.Second))
}

// publish computes the pod's status and hands it to the status manager.
func (w *podWorker) publish(pod *corev1.Pod) {
	v := podView{hostIP: w.a.opts.NodeIP.String(), podIP: w.podIP, startTime: w.startTime, terminating: w.terminating}
	w.mu.Lock()
	for _, c := range pod.Spec.Containers {
		r := w.ctrs[c.Name]
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
		if r == nil {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reasonContainerCreating}
			f := false
			cs.Started = &f
			v.containers = append(v.containers, cs)
			continue
		}
		cs.RestartCount = r.restartCount
		cs.ImageID = r.imageID
		if r.specImage != "" {
			cs.Image = r.specImage
		}
		if r.id != "" {
			cs.ContainerID = "skiff://" + r.id
		}
		started := r.running && r.started
		cs.Started = &started
		cs.Ready = r.running && r.started && r.ready
		switch {
		case r.running:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: truncTime(r.startedAt)}
			cs.LastTerminationState.Terminated = r.last
		case r.waiting != nil:
			cs.State.Waiting = r.waiting
			if r.term != nil {
				cs.LastTerminationState.Terminated = r.term
			} else {
				cs.LastTerminationState.Terminated = r.last
			}
		case r.term != nil:
			cs.State.Terminated = r.term
			cs.LastTerminationState.Terminated = r.last
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reasonContainerCreating}
		}
		v.containers = append(v.containers, cs)
	}
	w.mu.Unlock()
	w.a.status.Set(pod, computeStatus(pod, v, w.a.clock.Now()))
}
