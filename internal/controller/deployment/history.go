package deployment

import (
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/skiff-dev/skiff/internal/rollout"
)

// Annotations the controller writes on ReplicaSets (and the revision on the
// Deployment). kubectl rollout history and undo read them.
const (
	// RevisionAnnotation is the rollout sequence number of a ReplicaSet.
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// RevisionHistoryAnnotation lists the earlier revisions a ReplicaSet
	// served before being rolled back to.
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	// DesiredReplicasAnnotation is the Deployment's spec.replicas when the
	// ReplicaSet was last scaled; a difference means a scaling event.
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	// MaxReplicasAnnotation is spec.replicas + maxSurge when the ReplicaSet
	// was last scaled; proportional scaling uses it.
	MaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"
)

// maxRevisionHistoryChars bounds the revision-history annotation (about 100
// revisions); the oldest entries are dropped first.
const maxRevisionHistoryChars = 2000

// annotationsNotCopied are the Deployment annotations that are not copied
// onto its ReplicaSets (and that kubectl rollout undo does not copy back).
var annotationsNotCopied = map[string]bool{
	v1.LastAppliedConfigAnnotation: true,
	RevisionAnnotation:             true,
	RevisionHistoryAnnotation:      true,
	DesiredReplicasAnnotation:      true,
	MaxReplicasAnnotation:          true,
	appsv1.DeprecatedRollbackTo:    true,
	// The controller's record of a canary or rollback is the Deployment's.
	rollout.CanaryStepReachedAnnotation: true,
	rollout.StableHashAnnotation:        true,
	rollout.RolledBackFromAnnotation:    true,
}

// revision returns the revision annotation of rs, 0 if it has none.
func revision(rs *appsv1.ReplicaSet) (int64, error) {
	v, ok := rs.Annotations[RevisionAnnotation]
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

// maxRevision returns the highest revision among rss, skipping unparsable ones.
func maxRevision(rss []*appsv1.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		if v, err := revision(rs); err == nil && v > m {
			m = v
		}
	}
	return m
}

// setNewReplicaSetAnnotations brings the new ReplicaSet's annotations up to
// date: the Deployment's own annotations (kubernetes.io/change-cause among
// them) and newRevision if rs has a lower one. A ReplicaSet that already had
// a revision is being rolled back to, so its old revision is appended to
// revision-history. For a ReplicaSet about to be created, the replica
// annotations are set too. It reports whether anything changed.
func setNewReplicaSetAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, newRevision string, exists bool) bool {
	changed := copyDeploymentAnnotations(d, rs)
	if rs.Annotations == nil {
		rs.Annotations = make(map[string]string)
	}
	oldRevision, had := rs.Annotations[RevisionAnnotation]
	oldInt, err := strconv.ParseInt(oldRevision, 10, 64)
	if err != nil {
		if oldRevision != "" {
			return false // unparsable: leave it to a human
		}
		oldInt = 0
	}
	newInt, err := strconv.ParseInt(newRevision, 10, 64)
	if err != nil {
		return false
	}
	if oldInt < newInt {
		rs.Annotations[RevisionAnnotation] = newRevision
		changed = true
	}
	if had && oldInt < newInt {
		rs.Annotations[RevisionHistoryAnnotation] = appendRevisionHistory(rs.Annotations[RevisionHistoryAnnotation], oldRevision, maxRevisionHistoryChars)
	}
	if !exists && setReplicasAnnotations(rs, desiredReplicas(d), desiredReplicas(d)+maxSurge(d)) {
		changed = true
	}
	return changed
}

// appendRevisionHistory appends rev to the comma-separated history,
// dropping the oldest entries to stay within limit characters. If even that
// cannot make room, the history is left as it was.
func appendRevisionHistory(history, rev string, limit int) string {
	if history == "" {
		return rev
	}
	old := strings.Split(history, ",")
	total := len(history) + len(rev) + 1
	start := 0
	for total > limit && start < len(old) {
		total -= len(old[start]) + 1
		start++
	}
	if total > limit {
		return history
	}
	return strings.Join(append(old[start:], rev), ",")
}

// copyDeploymentAnnotations copies the Deployment's annotations, except
// annotationsNotCopied, onto rs, and reports whether any changed.
func copyDeploymentAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	changed := false
	if rs.Annotations == nil {
		rs.Annotations = make(map[string]string)
	}
	for k, v := range d.Annotations {
		// The Deployment's revision is copied from its new ReplicaSet, never
		// the other way: the ReplicaSet's is the reliable one.
		if annotationsNotCopied[k] || rs.Annotations[k] == v {
			continue
		}
		rs.Annotations[k] = v
		changed = true
	}
	return changed
}

// setDeploymentRevision sets the Deployment's revision annotation and
// reports whether it changed.
func setDeploymentRevision(d *appsv1.Deployment, rev string) bool {
	if d.Annotations == nil {
		d.Annotations = make(map[string]string)
	}
	if d.Annotations[RevisionAnnotation] == rev {
		return false
	}
	d.Annotations[RevisionAnnotation] = rev
	return true
}

// setReplicasAnnotations records desired and max replicas on rs and reports
// whether they changed.
func setReplicasAnnotations(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	if rs.Annotations == nil {
		rs.Annotations = make(map[string]string)
	}
	changed := false
	for k, v := range map[string]string{
		DesiredReplicasAnnotation: strconv.Itoa(int(desired)),
		MaxReplicasAnnotation:     strconv.Itoa(int(maxReplicas)),
	} {
		if rs.Annotations[k] != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	return changed
}

func replicasAnnotationsNeedUpdate(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	return rs.Annotations[DesiredReplicasAnnotation] != strconv.Itoa(int(desired)) ||
		rs.Annotations[MaxReplicasAnnotation] != strconv.Itoa(int(maxReplicas))
}

// intAnnotation reads an int32 annotation; ok is false if it is missing or invalid.
func intAnnotation(rs *appsv1.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// planHistoryCleanup picks the old ReplicaSets to delete so that at most
// limit remain: lowest revision first, and only those fully scaled down —
// no replicas wanted or running, status caught up with spec, not already
// being deleted. A ReplicaSet beyond the limit that still runs pods is kept
// (and counts against the limit) until a later sync.
func planHistoryCleanup(oldRSs []*appsv1.ReplicaSet, limit int32) []*appsv1.ReplicaSet {
	var alive []*appsv1.ReplicaSet
	for _, rs := range oldRSs {
		if rs != nil && rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	diff := len(alive) - int(limit)
	if diff <= 0 {
		return nil
	}
	sort.Sort(byRevision(alive))
	var doomed []*appsv1.ReplicaSet
	for _, rs := range alive[:diff] {
		if rs.Status.Replicas != 0 || replicasOf(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		doomed = append(doomed, rs)
	}
	return doomed
}
