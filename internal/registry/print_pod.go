package registry

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// nodeLostReason is the status.reason the node lifecycle controller gives pods of an
// unreachable node; such a pod that is being deleted prints as "Unknown".
const nodeLostReason = "NodeLost"

func podPrinter() printer {
	return printer{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Ready", Type: "string", Description: "The aggregate readiness state of this pod for accepting traffic."},
			{Name: "Status", Type: "string", Description: "The aggregate status of the containers in this pod."},
			{Name: "Restarts", Type: "string", Description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."},
			ageColumn(),
			{Name: "IP", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["podIP"]},
			{Name: "Node", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["nodeName"]},
			{Name: "Nominated Node", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]},
			{Name: "Readiness Gates", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["readinessGates"]},
		},
		row:    rowFor(podRow),
		fields: fieldsFor(podFields),
	}
}

// podRow prints NAME READY STATUS RESTARTS AGE | IP NODE NOMINATED-NODE READINESS-GATES.
func podRow(pod *corev1.Pod, now time.Time) []interface{} {
	s := summarizePod(pod)
	restarts := strconv.Itoa(s.restarts)
	if s.restarts != 0 && !s.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", s.restarts, age(s.lastRestart, now))
	}
	return []interface{}{
		pod.Name,
		fmt.Sprintf("%d/%d", s.ready, s.total),
		s.status,
		restarts,
		age(pod.CreationTimestamp, now),
		orNone(primaryPodIP(pod)),
		orNone(pod.Spec.NodeName),
		orNone(pod.Status.NominatedNodeName),
		readinessGates(pod),
	}
}

// podSummary is what kubectl get pods condenses a pod's containers into.
type podSummary struct {
	ready, total int    // READY: ready containers (sidecars included) of all of them
	status       string // STATUS
	restarts     int    // RESTARTS, of the containers that count (see summarizePod)
	lastRestart  metav1.Time
}

// restartTally sums restart counts and remembers the latest finish of a previous run.
type restartTally struct {
	count int
	last  metav1.Time
}

func (t *restartTally) add(cs corev1.ContainerStatus) {
	t.count += int(cs.RestartCount)
	if prev := cs.LastTerminationState.Terminated; prev != nil && t.last.Before(&prev.FinishedAt) {
		t.last = prev.FinishedAt
	}
}

// summarizePod computes READY, STATUS and RESTARTS the way upstream's printer does. STATUS
// starts from the phase (or status.reason), then the first init container that has not finished
// ("Init:1/3", "Init:CrashLoopBackOff", "Init:ExitCode:1") wins; once initialized, the
// containers' waiting or terminated reasons override it, the first container taking precedence.
// While a pod is still initializing only init container restarts count; afterwards, the
// restartable (sidecar) init containers' and the regular containers' restarts.
func summarizePod(pod *corev1.Pod) podSummary {
	s := podSummary{total: len(pod.Spec.Containers), status: podPhaseReason(pod)}

	sidecars := make(map[string]bool)
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			sidecars[pod.Spec.InitContainers[i].Name] = true
			s.total++
		}
	}

	var allInit, sidecarInit restartTally
	initializing := false
	for i, cs := range pod.Status.InitContainerStatuses {
		allInit.add(cs)
		if sidecars[cs.Name] {
			sidecarInit.add(cs)
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode == 0 {
			continue // finished
		}
		if sidecars[cs.Name] && cs.Started != nil && *cs.Started {
			if cs.Ready {
				s.ready++
			}
			continue // a running sidecar does not hold up initialization
		}
		s.status = initBlockedReason(cs, i, len(pod.Spec.InitContainers))
		initializing = true
		break
	}
	s.restarts, s.lastRestart = allInit.count, allInit.last

	if !initializing || podConditionTrue(pod.Status.Conditions, corev1.PodInitialized) {
		tally := sidecarInit
		hasRunning := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := pod.Status.ContainerStatuses[i]
			tally.add(cs)
			waiting, terminated := cs.State.Waiting, cs.State.Terminated
			switch {
			case waiting != nil && waiting.Reason != "":
				s.status = waiting.Reason
			case terminated != nil:
				s.status = terminatedReason(terminated)
			case cs.Ready && cs.State.Running != nil:
				hasRunning = true
				s.ready++
			}
		}
		s.restarts, s.lastRestart = tally.count, tally.last

		// A container still running keeps a pod with completed containers "Running".
		if s.status == "Completed" && hasRunning {
			if podConditionTrue(pod.Status.Conditions, corev1.PodReady) {
				s.status = "Running"
			} else {
				s.status = "NotReady"
			}
		}
	}

	if pod.DeletionTimestamp != nil {
		switch {
		case pod.Status.Reason == nodeLostReason:
			s.status = "Unknown"
		case pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed:
			s.status = "Terminating"
		}
	}
	return s
}

// podPhaseReason is where STATUS starts: the phase, or status.reason when set (e.g. "Evicted",
// "NodeLost"), or "SchedulingGated" while scheduling gates hold the pod.
func podPhaseReason(pod *corev1.Pod) string {
	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}
	return reason
}

// initBlockedReason is STATUS for a pod held up by init container cs, the i-th of n.
func initBlockedReason(cs corev1.ContainerStatus, i, n int) string {
	if t := cs.State.Terminated; t != nil {
		return "Init:" + terminatedReason(t)
	}
	if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "PodInitializing" {
		return "Init:" + w.Reason
	}
	return fmt.Sprintf("Init:%d/%d", i, n)
}

// terminatedReason is the reason a container terminated, or its signal or exit code when the
// runtime gave none.
func terminatedReason(t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("Signal:%d", t.Signal)
	default:
		return fmt.Sprintf("ExitCode:%d", t.ExitCode)
	}
}

// isSidecar reports whether an init container is restartable (restartPolicy: Always).
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// podConditionTrue reports whether the first pod condition of type t is True.
func podConditionTrue(conditions []corev1.PodCondition, t corev1.PodConditionType) bool {
	for _, c := range conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readinessGates prints "<true>/<all>" of the pod's readiness gates, or "<none>".
func readinessGates(pod *corev1.Pod) string {
	if len(pod.Spec.ReadinessGates) == 0 {
		return "<none>"
	}
	passing := 0
	for _, g := range pod.Spec.ReadinessGates {
		if podConditionTrue(pod.Status.Conditions, g.ConditionType) {
			passing++
		}
	}
	return fmt.Sprintf("%d/%d", passing, len(pod.Spec.ReadinessGates))
}

// primaryPodIP is the pod's primary IP. Upstream reads the first of status.podIPs after converting
// from v1, where a set status.podIP wins over podIPs; we read the v1 fields the same way.
func primaryPodIP(pod *corev1.Pod) string {
	if pod.Status.PodIP != "" {
		return pod.Status.PodIP
	}
	if len(pod.Status.PodIPs) > 0 {
		return pod.Status.PodIPs[0].IP
	}
	return ""
}

// podFields are the pod fields a field selector can use (upstream's pod ToSelectableFields).
func podFields(pod *corev1.Pod) fields.Set {
	return fields.Set{
		"spec.nodeName":            pod.Spec.NodeName,
		"spec.restartPolicy":       string(pod.Spec.RestartPolicy),
		"spec.schedulerName":       pod.Spec.SchedulerName,
		"spec.serviceAccountName":  pod.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(pod.Spec.HostNetwork),
		"status.phase":             string(pod.Status.Phase),
		"status.podIP":             primaryPodIP(pod),
		"status.nominatedNodeName": pod.Status.NominatedNodeName,
	}
}
