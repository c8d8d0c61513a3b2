package replicaset

import (
	"math"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// deletionOrder sorts pods so that the ones to delete first come first, by
// upstream's ranking (controller.ActivePodsWithRanks, with PodDeletionCost and
// LogarithmicScaleDown on, as they are by default):
//
//  1. not yet scheduled before scheduled
//  2. Pending before Unknown before Running
//  3. not ready before ready
//  4. lower controller.kubernetes.io/pod-deletion-cost before higher
//  5. more ready sibling pods on the same node before fewer (rank)
//  6. ready for less time before ready for longer, compared in powers of two
//     of the time since, ties broken by UID
//  7. more container restarts before fewer
//  8. newer before older, compared the same way as 6
type deletionOrder struct {
	pods []*v1.Pod
	rank []int // rank[i]: active pods of related ReplicaSets on pods[i]'s node
	now  time.Time
}

func (s deletionOrder) Len() int { return len(s.pods) }

func (s deletionOrder) Swap(i, j int) {
	s.pods[i], s.pods[j] = s.pods[j], s.pods[i]
	s.rank[i], s.rank[j] = s.rank[j], s.rank[i]
}

var phaseOrder = map[v1.PodPhase]int{v1.PodPending: 0, v1.PodUnknown: 1, v1.PodRunning: 2}

func (s deletionOrder) Less(i, j int) bool {
	pi, pj := s.pods[i], s.pods[j]
	if pi.Spec.NodeName != pj.Spec.NodeName && (pi.Spec.NodeName == "" || pj.Spec.NodeName == "") {
		return pi.Spec.NodeName == ""
	}
	if phaseOrder[pi.Status.Phase] != phaseOrder[pj.Status.Phase] {
		return phaseOrder[pi.Status.Phase] < phaseOrder[pj.Status.Phase]
	}
	if isReady(pi) != isReady(pj) {
		return !isReady(pi)
	}
	if ci, cj := deletionCost(pi), deletionCost(pj); ci != cj {
		return ci < cj
	}
	if s.rank[i] != s.rank[j] {
		return s.rank[i] > s.rank[j]
	}
	if isReady(pi) && isReady(pj) {
		ti, tj := readySince(pi), readySince(pj)
		if !ti.Equal(&tj) {
			return s.newerFirst(pi, pj, ti, tj)
		}
	}
	if ri, rj := restarts(pi), restarts(pj); ri != rj {
		return ri.more(rj)
	}
	if !pi.CreationTimestamp.Equal(&pj.CreationTimestamp) {
		return s.newerFirst(pi, pj, pi.CreationTimestamp, pj.CreationTimestamp)
	}
	return false
}

// newerFirst orders by time since ti and tj on a log2 scale, so that pods of
// similar age are not told apart by a few seconds and a scale-down does not
// always hit the same failure domain; within one bucket the UID decides. A
// zero time counts as newest.
func (s deletionOrder) newerFirst(pi, pj *v1.Pod, ti, tj metav1.Time) bool {
	if s.now.IsZero() || ti.IsZero() || tj.IsZero() {
		return afterOrZero(ti, tj)
	}
	if d := log2Bucket(s.now.Sub(ti.Time)) - log2Bucket(s.now.Sub(tj.Time)); d != 0 {
		return d < 0
	}
	return pi.UID < pj.UID
}

func log2Bucket(d time.Duration) int64 {
	if d <= 0 {
		return -1
	}
	return int64(math.Log2(float64(d)))
}

// afterOrZero reports whether t1 is after t2, a zero time being after any other.
func afterOrZero(t1, t2 metav1.Time) bool {
	if t1.IsZero() || t2.IsZero() {
		return t1.IsZero()
	}
	return t1.After(t2.Time)
}

// deletionCost reads controller.kubernetes.io/pod-deletion-cost; a missing or
// invalid value counts as 0.
func deletionCost(p *v1.Pod) int32 {
	v, ok := p.Annotations[v1.PodDeletionCost]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}

type restartCounts struct{ regular, sidecar int32 }

// more reports whether r restarted more than o: regular containers first,
// then restartable init containers (sidecars).
func (r restartCounts) more(o restartCounts) bool {
	if r.regular != o.regular {
		return r.regular > o.regular
	}
	return r.sidecar > o.sidecar
}

func restarts(p *v1.Pod) restartCounts {
	var r restartCounts
	for _, c := range p.Status.ContainerStatuses {
		r.regular = max(r.regular, c.RestartCount)
	}
	sidecars := sets.New[string]()
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			sidecars.Insert(c.Name)
		}
	}
	for _, c := range p.Status.InitContainerStatuses {
		if sidecars.Has(c.Name) {
			r.sidecar = max(r.sidecar, c.RestartCount)
		}
	}
	return r
}
