package deployment

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/internal/rollout"
)

// Automatic rollback (skiff.dev/auto-rollback: "true"): a revision whose
// rollout fails one of the signals below is rolled back to the last revision
// that completed, as kubectl rollout undo would do it — that revision's
// ReplicaSet template becomes spec.template (and its change-cause comes
// back), so the ReplicaSet is reused and gets the next revision number, its
// old one going to revision-history. The signals, each about the pods of
// the new ReplicaSet only:
//
//   - progress deadline: the Progressing condition says
//     ProgressDeadlineExceeded for the new ReplicaSet;
//   - restarts: a pod restarted more than skiff.dev/max-restarts times, or
//     a container waits in CrashLoopBackOff;
//   - not Ready: a pod has not been Ready for longer than
//     skiff.dev/max-unready.
//
// A signal is a value a later step can add to (the proxy's 5xx rate, say):
// failureSignal is the one place that reads them.
//
// The rollback writes Progressing=False with reason ProgressDeadlineExceeded
// (the one failure reason kubectl rollout status knows: it exits 1 with
// `deployment "kubia" exceeded its progress deadline`) and a message saying
// it was rolled back, the skiff.dev/AutoRollback condition (reason
// RolledBack), a RolledBack event with the signal and numbers, and the bad
// revision's pod-template-hash in skiff.dev/rolled-back-from. The
// controller never rolls forward to that template by itself; setting it
// again is a new change of the spec, rolled out anew.

// AutoRollbackCondition is the condition a rollback sets.
const AutoRollbackCondition appsv1.DeploymentConditionType = "skiff.dev/AutoRollback"

const reasonRolledBack = "RolledBack"

// signal is why a revision failed.
type signal struct {
	name    string // ProgressDeadlineExceeded, Restarts, CrashLoopBackOff, NotReady
	message string
}

// failureSignal returns the first failure of newRS's pods under policy, or
// nil; and how long until the not-Ready signal could next fire (0: never).
func (c *Controller) failureSignal(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, policy rollout.Policy) (*signal, time.Duration) {
	if cond := getCondition(d.Status, appsv1.DeploymentProgressing); cond != nil && cond.Reason == reasonTimedOut &&
		cond.Message == fmt.Sprintf("ReplicaSet %q has timed out progressing.", newRS.Name) {
		return &signal{name: reasonTimedOut, message: fmt.Sprintf("ReplicaSet %q made no progress for %ds (progressDeadlineSeconds)", newRS.Name, *d.Spec.ProgressDeadlineSeconds)}, 0
	}
	pods, err := c.podsByReplicaSet(d, []*appsv1.ReplicaSet{newRS})
	if err != nil {
		return nil, 0
	}
	now := c.clock.Now()
	var soonest time.Duration
	for _, p := range pods[newRS.UID] {
		if p.DeletionTimestamp != nil {
			continue
		}
		var restarts int32
		for _, cs := range p.Status.ContainerStatuses {
			restarts += cs.RestartCount
			if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
				return &signal{name: "CrashLoopBackOff", message: fmt.Sprintf("container %q of pod %s is in CrashLoopBackOff after %d restarts", cs.Name, p.Name, cs.RestartCount)}, 0
			}
		}
		if policy.MaxRestarts >= 0 && restarts > policy.MaxRestarts {
			return &signal{name: "Restarts", message: fmt.Sprintf("pod %s restarted %d times (max-restarts %d)", p.Name, restarts, policy.MaxRestarts)}, 0
		}
		if policy.MaxUnready <= 0 || isPodReady(p) {
			continue
		}
		since := unreadySince(p)
		unready := now.Sub(since)
		if unready > policy.MaxUnready {
			return &signal{name: "NotReady", message: fmt.Sprintf("pod %s not Ready for %s (max-unready %s)", p.Name, unready.Round(time.Second), policy.MaxUnready)}, 0
		}
		if wait := policy.MaxUnready - unready + time.Second; soonest == 0 || wait < soonest {
			soonest = wait
		}
	}
	return nil, soonest
}

// unreadySince is when a pod that is not Ready stopped being, or has been
// not Ready since: its Ready condition's transition, else its start, else
// its creation.
func unreadySince(p *v1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	if p.Status.StartTime != nil {
		return p.Status.StartTime.Time
	}
	return p.CreationTimestamp.Time
}

func isPodReady(p *v1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// rollbackTarget is the ReplicaSet of the last revision that completed (the
// one skiff.dev/stable-pod-template-hash names), else the previous
// revision, as kubectl rollout undo picks it; nil if there is none.
func rollbackTarget(d *appsv1.Deployment, oldRSs []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if stable := d.Annotations[rollout.StableHashAnnotation]; stable != "" {
		for _, rs := range oldRSs {
			if rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == stable {
				return rs
			}
		}
	}
	var best *appsv1.ReplicaSet
	var bestRev int64
	for _, rs := range oldRSs {
		if r, err := revision(rs); err == nil && r > bestRev {
			best, bestRev = rs, r
		}
	}
	return best
}

// checkRollback rolls d back if its rollout to newRS fails a signal. It
// acts only during a rollout — a revision that completed is not rolled
// back — and not while the user has paused it (a canary hold is the
// controller's pause, and is checked). It reports whether it rolled back.
func (c *Controller) checkRollback(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet, policy rollout.Policy) (bool, error) {
	if !policy.AutoRollback || newRS == nil || len(oldRSs) == 0 {
		return false, nil
	}
	hash := newRS.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if d.Annotations[rollout.StableHashAnnotation] == hash {
		return false, nil
	}
	if d.Spec.Paused {
		if _, held := heldStep(d, canaryOf(d, newRS, oldRSs)); !held {
			return false, nil
		}
	}
	target := rollbackTarget(d, oldRSs)
	if target == nil {
		return false, nil
	}
	sig, wait := c.failureSignal(d, newRS, policy)
	if sig == nil {
		if wait > 0 {
			c.loop.AddAfter(d.Namespace+"/"+d.Name, wait)
		}
		return false, nil
	}
	return true, c.rollBack(ctx, d, newRS, target, sig)
}

// rollBack puts target's template back into d and records why.
func (c *Controller) rollBack(ctx context.Context, d *appsv1.Deployment, bad, target *appsv1.ReplicaSet, sig *signal) error {
	back := d.DeepCopy()
	back.Spec.Template = *target.Spec.Template.DeepCopy()
	delete(back.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	back.Spec.Paused = false
	if back.Annotations == nil {
		back.Annotations = map[string]string{}
	}
	for k, v := range target.Annotations {
		if !annotationsNotCopied[k] && !strings.HasPrefix(k, rollout.Prefix) {
			back.Annotations[k] = v
		}
	}
	badHash := bad.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	back.Annotations[rollout.RolledBackFromAnnotation] = badHash
	delete(back.Annotations, rollout.CanaryStepReachedAnnotation)
	updated, err := c.client.AppsV1().Deployments(d.Namespace).Update(ctx, back, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("roll back deployment %s/%s: %w", d.Namespace, d.Name, err)
	}

	badRev, targetRev := bad.Annotations[RevisionAnnotation], target.Annotations[RevisionAnnotation]
	msg := fmt.Sprintf("Rolled back from revision %s (ReplicaSet %q) to revision %s (ReplicaSet %q): %s", badRev, bad.Name, targetRev, target.Name, sig.message)
	c.recorder.Event(updated, v1.EventTypeWarning, reasonRolledBack, msg)
	c.log.Info("rolled back", "deployment", d.Namespace+"/"+d.Name, "signal", sig.name, "from", bad.Name, "to", target.Name)

	// Status for the generation just written, so that kubectl rollout status
	// (which waits for observedGeneration) sees the failure.
	now := c.clock.Now()
	updated.Status.ObservedGeneration = updated.Generation
	// Replaced even when it already timed out: the message is the news.
	removeCondition(&updated.Status, appsv1.DeploymentProgressing)
	updated.Status.Conditions = append(updated.Status.Conditions, newCondition(appsv1.DeploymentProgressing, v1.ConditionFalse, reasonTimedOut,
		fmt.Sprintf("ReplicaSet %q was rolled back: %s", bad.Name, sig.message), now))
	removeCondition(&updated.Status, AutoRollbackCondition)
	updated.Status.Conditions = append(updated.Status.Conditions, newCondition(AutoRollbackCondition, v1.ConditionTrue, reasonRolledBack, msg, now))
	if c := getCondition(updated.Status, CanaryCondition); c != nil && c.Status == v1.ConditionTrue {
		setCanaryCondition(&updated.Status, v1.ConditionFalse, reasonRolledBack, fmt.Sprintf("Canary of ReplicaSet %q rolled back: %s", bad.Name, sig.message), now)
	}
	return c.writeStatus(ctx, updated)
}
