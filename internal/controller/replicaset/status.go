package replicaset

import (
	"context"
	"fmt"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// ReplicaFailure condition reasons.
const (
	reasonFailedCreate = "FailedCreate"
	reasonFailedDelete = "FailedDelete"
)

// calculateStatus computes rs's status from its active and terminating pods
// and the outcome of this sync's creations or deletions.
func calculateStatus(rs *appsv1.ReplicaSet, active, terminating []*v1.Pod, manageErr error, reportTerminating bool, now time.Time) appsv1.ReplicaSetStatus {
	status := *rs.Status.DeepCopy()

	// A pod is fully labeled when it carries every label of the template,
	// which is a superset of the selector.
	template := pairsOf(rs.Spec.Template.Labels)
	var fullyLabeled, ready, available int32
	for _, p := range active {
		if template.in(p.Labels) {
			fullyLabeled++
		}
		if isReady(p) {
			ready++
			if isAvailable(p, rs.Spec.MinReadySeconds, now) {
				available++
			}
		}
	}

	failure := getCondition(status, appsv1.ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && failure == nil:
		reason := ""
		if diff := len(active) - int(wantReplicas(rs)); diff < 0 {
			reason = reasonFailedCreate
		} else if diff > 0 {
			reason = reasonFailedDelete
		}
		setCondition(&status, appsv1.ReplicaSetCondition{
			Type:               appsv1.ReplicaSetReplicaFailure,
			Status:             v1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now),
			Reason:             reason,
			Message:            manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		removeCondition(&status, appsv1.ReplicaSetReplicaFailure)
	}

	status.Replicas = int32(len(active))
	status.FullyLabeledReplicas = fullyLabeled
	status.ReadyReplicas = ready
	status.AvailableReplicas = available
	status.TerminatingReplicas = nil
	if reportTerminating {
		status.TerminatingReplicas = ptr.To(int32(len(terminating)))
	}
	return status
}

// nextAvailable returns how long until the first ready pod that is not yet
// available becomes available, plus a second for clock skew as upstream
// allows; ok is false if no pod is waiting for minReadySeconds.
func nextAvailable(minReadySeconds int32, active []*v1.Pod, now time.Time) (after time.Duration, ok bool) {
	if minReadySeconds <= 0 {
		return 0, false
	}
	for _, p := range active {
		if !isReady(p) || isAvailable(p, minReadySeconds, now) {
			continue
		}
		since := readySince(p)
		if since.IsZero() {
			continue
		}
		d := since.Add(time.Duration(minReadySeconds) * time.Second).Sub(now)
		if !ok || d < after {
			after, ok = d, true
		}
	}
	if !ok {
		return 0, false
	}
	return max(after, 0) + time.Second, true
}

// statusUpdateRetries is how many times a conflicting status write is retried
// against a freshly read object before the sync fails and is requeued.
const statusUpdateRetries = 1

// updateStatus writes status to rs unless nothing changed, re-reading rs once
// on a conflict. rs must be a copy the caller owns.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	if rs.Status.Replicas == status.Replicas &&
		rs.Status.FullyLabeledReplicas == status.FullyLabeledReplicas &&
		rs.Status.ReadyReplicas == status.ReadyReplicas &&
		rs.Status.AvailableReplicas == status.AvailableReplicas &&
		ptr.Equal(rs.Status.TerminatingReplicas, status.TerminatingReplicas) &&
		rs.Generation == rs.Status.ObservedGeneration &&
		reflect.DeepEqual(rs.Status.Conditions, status.Conditions) {
		return rs, nil
	}
	// Record the generation this status was computed for, not whatever the
	// object has by the time a retry reads it.
	status.ObservedGeneration = rs.Generation

	for i := 0; ; i++ {
		rs.Status = status
		updated, err := c.kind.store.updateStatus(ctx, rs)
		if err == nil {
			return updated, nil
		}
		if i >= statusUpdateRetries {
			return nil, fmt.Errorf("update status of %s %s/%s: %w", c.kind.gvk.Kind, rs.Namespace, rs.Name, err)
		}
		fresh, getErr := c.kind.store.fetch(ctx, rs.Namespace, rs.Name)
		if getErr != nil {
			return nil, fmt.Errorf("re-read %s %s/%s for status update: %w", c.kind.gvk.Kind, rs.Namespace, rs.Name, getErr)
		}
		rs = fresh.DeepCopy()
	}
}

func getCondition(status appsv1.ReplicaSetStatus, t appsv1.ReplicaSetConditionType) *appsv1.ReplicaSetCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}

// setCondition adds or replaces the condition of c's type, keeping the old
// one if nothing but its time changed.
func setCondition(status *appsv1.ReplicaSetStatus, c appsv1.ReplicaSetCondition) {
	if cur := getCondition(*status, c.Type); cur != nil && cur.Status == c.Status && cur.Reason == c.Reason {
		return
	}
	removeCondition(status, c.Type)
	status.Conditions = append(status.Conditions, c)
}

func removeCondition(status *appsv1.ReplicaSetStatus, t appsv1.ReplicaSetConditionType) {
	var kept []appsv1.ReplicaSetCondition
	for _, c := range status.Conditions {
		if c.Type != t {
			kept = append(kept, c)
		}
	}
	status.Conditions = kept
}
