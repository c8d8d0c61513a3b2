package deployment

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/internal/rollout"
)

// hasProgressDeadline reports whether progress is tracked at all; the API
// defaults progressDeadlineSeconds to 600, and MaxInt32 means "never".
func hasProgressDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

// deploymentComplete reports whether every replica is updated and available
// and the status describes the current generation.
func deploymentComplete(d *appsv1.Deployment, s *appsv1.DeploymentStatus) bool {
	want := desiredReplicas(d)
	return s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want &&
		s.ObservedGeneration >= d.Generation
}

// deploymentProgressing reports whether s shows progress over the
// Deployment's current status: more updated, ready or available replicas, or
// fewer old ones.
func deploymentProgressing(d *appsv1.Deployment, s *appsv1.DeploymentStatus) bool {
	old := d.Status
	oldOld := old.Replicas - old.UpdatedReplicas
	newOld := s.Replicas - s.UpdatedReplicas
	return s.UpdatedReplicas > old.UpdatedReplicas ||
		newOld < oldOld ||
		s.ReadyReplicas > old.ReadyReplicas ||
		s.AvailableReplicas > old.AvailableReplicas
}

// deploymentTimedOut reports whether the rollout has made no progress for
// progressDeadlineSeconds since the Progressing condition was last updated.
func deploymentTimedOut(d *appsv1.Deployment, s *appsv1.DeploymentStatus, now time.Time) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	c := getCondition(*s, appsv1.DeploymentProgressing)
	if c == nil {
		return false
	}
	// A rollout that completed is not timed out, even if the informer has
	// not yet shown us the condition of a newer rollout.
	if c.Reason == reasonNewRSAvailable {
		return false
	}
	if c.Reason == reasonTimedOut {
		return true
	}
	deadline := time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
	return c.LastUpdateTime.Add(deadline).Before(now)
}

// syncRolloutStatus writes the status of a Deployment in the middle of a
// rollout, with its Progressing condition: NewReplicaSetAvailable once
// complete, ReplicaSetUpdated (refreshing lastUpdateTime) whenever progress
// shows, ProgressDeadlineExceeded when none showed for the deadline.
func (c *Controller) syncRolloutStatus(ctx context.Context, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	now := c.clock.Now()
	s := calculateStatus(allRSs, newRS, d, now)

	if !hasProgressDeadline(d) {
		removeCondition(&s, appsv1.DeploymentProgressing)
	}

	// With the rollout complete there is no progress to estimate on resyncs.
	cur := getCondition(d.Status, appsv1.DeploymentProgressing)
	complete := s.Replicas == s.UpdatedReplicas && cur != nil && cur.Reason == reasonNewRSAvailable
	if hasProgressDeadline(d) && !complete {
		switch {
		case deploymentComplete(d, &s):
			msg := fmt.Sprintf("Deployment %q has successfully progressed.", d.Name)
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q has successfully progressed.", newRS.Name)
			}
			setCondition(&s, newCondition(appsv1.DeploymentProgressing, v1.ConditionTrue, reasonNewRSAvailable, msg, now))

		case deploymentProgressing(d, &s):
			msg := fmt.Sprintf("Deployment %q is progressing.", d.Name)
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q is progressing.", newRS.Name)
			}
			cond := newCondition(appsv1.DeploymentProgressing, v1.ConditionTrue, reasonReplicaSetUpdated, msg, now)
			// Unlike other conditions, Progressing is rewritten with the same
			// reason to move lastUpdateTime, which the deadline counts from.
			if cur != nil {
				if cur.Status == v1.ConditionTrue {
					cond.LastTransitionTime = cur.LastTransitionTime
				}
				removeCondition(&s, appsv1.DeploymentProgressing)
			}
			setCondition(&s, cond)

		case deploymentTimedOut(d, &s, now):
			msg := fmt.Sprintf("Deployment %q has timed out progressing.", d.Name)
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q has timed out progressing.", newRS.Name)
			}
			setCondition(&s, newCondition(appsv1.DeploymentProgressing, v1.ConditionFalse, reasonTimedOut, msg, now))
		}
	}

	// Surface a ReplicaFailure of the new ReplicaSet (or else of an old one).
	if failures := replicaFailures(allRSs, newRS); len(failures) > 0 {
		setCondition(&s, failures[0])
	} else {
		removeCondition(&s, appsv1.DeploymentReplicaFailure)
	}

	noted := noteComplete(d, newRS, &s, now)
	if !noted && reflect.DeepEqual(d.Status, s) {
		c.requeueStuckDeployment(d, s)
		return nil
	}
	d.Status = s
	_, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update status of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	return nil
}

// replicaFailures converts the ReplicaFailure conditions of the new
// ReplicaSet, or failing that of the old ones, into Deployment conditions.
func replicaFailures(allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) []appsv1.DeploymentCondition {
	collect := func(rss ...*appsv1.ReplicaSet) []appsv1.DeploymentCondition {
		var out []appsv1.DeploymentCondition
		for _, rs := range rss {
			if rs == nil {
				continue
			}
			for _, cond := range rs.Status.Conditions {
				if cond.Type == appsv1.ReplicaSetReplicaFailure {
					out = append(out, conditionFromReplicaSet(cond))
				}
			}
		}
		return out
	}
	if failures := collect(newRS); len(failures) > 0 {
		return failures
	}
	return collect(allRSs...)
}

// requeueStuckDeployment schedules a progress check for when the deadline of
// a rollout that shows no progress would pass: nothing else would wake the
// controller then. It returns the delay, 0 for now, or -1 for no check.
func (c *Controller) requeueStuckDeployment(d *appsv1.Deployment, s appsv1.DeploymentStatus) time.Duration {
	cur := getCondition(d.Status, appsv1.DeploymentProgressing)
	if !hasProgressDeadline(d) || cur == nil {
		return -1
	}
	if deploymentComplete(d, &s) || cur.Reason == reasonTimedOut {
		return -1
	}
	// lastUpdateTime + progressDeadlineSeconds - now. For example, updated
	// 3 minutes ago with a 10 minute deadline: check in 7 minutes.
	after := cur.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(c.clock.Now())
	key := d.Namespace + "/" + d.Name
	if after < time.Second {
		c.loop.AddRateLimited(key)
		return 0
	}
	// One more second absorbs millisecond skew in AddAfter.
	c.loop.AddAfter(key, after+time.Second)
	return after
}

// noteComplete records, for a Deployment with a skiff.dev/ policy whose
// rollout just completed, the revision an automatic rollback returns to
// (skiff.dev/stable-pod-template-hash) and the canary's end. It reports
// whether an annotation changed.
func noteComplete(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, s *appsv1.DeploymentStatus, now time.Time) bool {
	if newRS == nil || !deploymentComplete(d, s) {
		return false
	}
	if policy, _ := rollout.Parse(d.Annotations); !policy.Enabled() {
		return false
	}
	if cond := getCondition(*s, CanaryCondition); cond != nil && cond.Status == v1.ConditionTrue {
		setCanaryCondition(s, v1.ConditionFalse, reasonCanaryComplete, fmt.Sprintf("ReplicaSet %q passed every canary step and rolled out", newRS.Name), now)
	}
	hash := newRS.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if d.Annotations[rollout.StableHashAnnotation] == hash {
		return false
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[rollout.StableHashAnnotation] = hash
	return true
}
