package nodelifecycle

import (
	"time"

	"github.com/go-logr/logr"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Upstream's reason and message for conditions of a node that stopped reporting.
const (
	reasonUnknown  = "NodeStatusUnknown"
	messageUnknown = "Kubelet stopped posting node status."
)

// readyStatus is the node's Ready condition status ("" when it has none).
func readyStatus(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

// unknownConditions returns n's conditions set to Unknown (as upstream does when the kubelet
// stops posting), and whether anything changed.
func unknownConditions(n *corev1.Node, now metav1.Time) ([]corev1.NodeCondition, bool) {
	out := make([]corev1.NodeCondition, 0, 4)
	changed := false
	seen := map[corev1.NodeConditionType]bool{}
	for _, c := range n.Status.Conditions {
		seen[c.Type] = true
		switch c.Type {
		case corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure:
			if c.Status != corev1.ConditionUnknown {
				c.Status, c.Reason, c.Message, c.LastTransitionTime = corev1.ConditionUnknown, reasonUnknown, messageUnknown, now
				changed = true
			}
		}
		out = append(out, c)
	}
	if !seen[corev1.NodeReady] {
		out = append(out, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
			Reason: reasonUnknown, Message: "Kubelet never posted node status.", LastHeartbeatTime: now, LastTransitionTime: now})
		changed = true
	}
	return out, changed
}

// wantTaints returns n's taints with the not-ready/unreachable taints its Ready condition calls
// for (NoSchedule and NoExecute), keeping the timeAdded of those it already has, and whether
// they differ from n's.
func wantTaints(n *corev1.Node, now metav1.Time) ([]corev1.Taint, bool) {
	var key string
	switch readyStatus(n) {
	case corev1.ConditionFalse:
		key = corev1.TaintNodeNotReady
	case corev1.ConditionUnknown:
		key = corev1.TaintNodeUnreachable
	}
	var out []corev1.Taint
	have := map[corev1.TaintEffect]bool{}
	changed := false
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
			if t.Key != key {
				changed = true
				continue
			}
			have[t.Effect] = true
		}
		out = append(out, t)
	}
	if key != "" {
		for _, eff := range []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute} {
			if !have[eff] {
				t := corev1.Taint{Key: key, Effect: eff}
				if eff == corev1.TaintEffectNoExecute {
					t.TimeAdded = &now
				}
				out = append(out, t)
				changed = true
			}
		}
	}
	return out, changed
}

// evictAt returns when pod must leave a node with taints: the earliest time a NoExecute taint it
// does not tolerate forever runs out. A pod with no toleration for a not-ready/unreachable taint
// gets def, as Kubernetes' DefaultTolerationSeconds admission gives every pod; a pod with no
// toleration for any other NoExecute taint goes at once. ok is false when it may stay.
func evictAt(pod *corev1.Pod, taints []corev1.Taint, def time.Duration) (at time.Time, ok bool) {
	for _, t := range taints {
		if t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		added := time.Time{}
		if t.TimeAdded != nil {
			added = t.TimeAdded.Time
		}
		var stay time.Duration
		matched, forever := false, false
		for _, tol := range pod.Spec.Tolerations {
			if !tol.ToleratesTaint(logr.Discard(), &t, false) {
				continue
			}
			if tol.TolerationSeconds == nil {
				forever = true
				break
			}
			d := time.Duration(*tol.TolerationSeconds) * time.Second
			if !matched || d < stay {
				stay = d
			}
			matched = true
		}
		if forever {
			continue
		}
		if !matched {
			if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
				stay = def
			}
		}
		if stay < 0 {
			stay = 0
		}
		when := added.Add(stay)
		if !ok || when.Before(at) {
			at, ok = when, true
		}
	}
	return at, ok
}
