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

func filterPods(pods []*v1.Pod, keep func(*v1.Pod) bool) []*v1.Pod {
	var out []*v1.Pod
	for _, p := range pods {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// controlledAndMatching returns the pods controlled by owner that match selector.
func controlledAndMatching(owner metav1.Object, selector labels.Selector, pods []*v1.Pod) []*v1.Pod {
	return filterPods(pods, func(p *v1.Pod) bool {
		return metav1.IsControlledBy(p, owner) && selector.Matches(labels.Set(p.Labels))
	})
}

func podKey(p *v1.Pod) string { return p.Namespace + "/" + p.Name }

// wantReplicas is spec.replicas; nil (never stored: the API server defaults
// it) reads as the default, 1.
func wantReplicas(rs *appsv1.ReplicaSet) int32 { return ptr.Deref(rs.Spec.Replicas, 1) }
