package replicaset

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

// isActive reports whether a pod counts towards replicas: not finished and
// not being deleted.
func isActive(p *v1.Pod) bool {
	return p.Status.Phase != v1.PodSucceeded && p.Status.Phase != v1.PodFailed && p.DeletionTimestamp == nil
}

// isTerminating reports whether a pod is being deleted but has not finished.
func isTerminating(p *v1.Pod) bool {
	return p.Status.Phase != v1.PodSucceeded && p.Status.Phase != v1.PodFailed && p.DeletionTimestamp != nil
}

func readyCondition(p *v1.Pod) *v1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == v1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// isReady reports whether the pod's Ready condition is True.
func isReady(p *v1.Pod) bool {
	c := readyCondition(p)
	return c != nil && c.Status == v1.ConditionTrue
}

// readySince returns when a ready pod became ready, or the zero time.
func readySince(p *v1.Pod) metav1.Time {
	if c := readyCondition(p); c != nil && c.Status == v1.ConditionTrue {
		return c.LastTransitionTime
	}
	return metav1.Time{}
}

// isAvailable reports whether a pod has been ready for more than
// minReadySeconds at now (upstream's podutil.IsPodAvailable).
func isAvailable(p *v1.Pod, minReadySeconds int32, now time.Time) bool {
	if !isReady(p) {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	since := readySince(p)
	return !since.IsZero() && since.Add(time.Duration(minReadySeconds)*time.Second).Before(now)
}

// candidateSets are a ReplicaSet's candidate pods (its own and the
// namespace's orphans) sorted by what a sync does with them.
type candidateSets struct {
	active      []*v1.Pod // controlled and selected: counted as they are
	terminating []*v1.Pod // controlled and selected, being deleted
	unclaimed   []*v1.Pod // active pods to adopt (selected orphans) or release (controlled, not selected)
}

// sortCandidates sorts candidates in one pass, so that a sync of n pods
// looks at each once. It decides nothing that claiming decides: pods that may
// need adopting or releasing are left to the claimer, which checks them again.
func sortCandidates(rs *appsv1.ReplicaSet, selects func(labels map[string]string) bool, candidates []*v1.Pod) candidateSets {
	var sets candidateSets
	for _, p := range candidates {
		active, terminating := isActive(p), isTerminating(p)
		if !active && !terminating {
			continue // finished
		}
		ref := metav1.GetControllerOfNoCopy(p)
		switch {
		case ref != nil && ref.UID != rs.UID:
			// Someone else's.
		case ref == nil:
			if active && selects(p.Labels) {
				sets.unclaimed = append(sets.unclaimed, p)
			}
		case !selects(p.Labels):
			if active {
				sets.unclaimed = append(sets.unclaimed, p)
			}
		case active:
			sets.active = append(sets.active, p)
		default:
			sets.terminating = append(sets.terminating, p)
		}
	}
	return sets
}

// matcher returns selector as a function of a pod's labels. A selector of
// matchLabels only (every ReplicaSet a Deployment creates, every
// ReplicationController) is tested by looking its labels up in the pod's,
// rather than through labels.Selector; sel is selector parsed.
func matcher(sel *metav1.LabelSelector, selector labels.Selector) func(map[string]string) bool {
	if sel != nil && len(sel.MatchExpressions) == 0 && len(sel.MatchLabels) > 0 {
		return pairsOf(sel.MatchLabels).in
	}
	return func(l map[string]string) bool { return selector.Matches(labels.Set(l)) }
}

// labelPairs is a label set held as a slice, to test against many pods.
type labelPairs []struct{ key, value string }

func pairsOf(m map[string]string) labelPairs {
	pairs := make(labelPairs, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, struct{ key, value string }{k, v})
	}
	return pairs
}

// in reports whether labels has every pair.
func (pairs labelPairs) in(labels map[string]string) bool {
	for _, p := range pairs {
		if v, ok := labels[p.key]; !ok || v != p.value {
			return false
		}
	}
	return true
}

func podKey(p *v1.Pod) string { return p.Namespace + "/" + p.Name }

// wantReplicas is spec.replicas; nil (never stored: the API server defaults
// it) reads as the default, 1.
func wantReplicas(rs *appsv1.ReplicaSet) int32 { return ptr.Deref(rs.Spec.Replicas, 1) }
