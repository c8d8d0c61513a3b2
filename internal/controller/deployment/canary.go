package deployment

import (
	"context"
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/internal/rollout"
)

// Canary steps (skiff.dev/canary-steps): a rolling update holds the new
// ReplicaSet at each step's share of spec.replicas, and once that many new
// pods are available and the old ReplicaSets are down to the rest, the
// controller pauses the Deployment itself (spec.paused, as kubectl rollout
// pause does), records the step in skiff.dev/canary-step and says so in the
// skiff.dev/Canary condition and a CanaryStepReached event. kubectl rollout
// resume, or skiff.dev/step-pause elapsing while the new pods stay healthy,
// promotes to the next step; after the last one the rollout completes as
// upstream's does.
//
// A step counts available new pods, as Argo Rollouts' setWeight does for a
// ReplicaSet canary without traffic routing: the step is the share of pods
// that serve, and a pod counts once it has been Ready for minReadySeconds.
// Counting updated (created) pods would pause before any new pod had served
// a request, which is not a canary.

// Reasons of the skiff.dev/Canary condition and of canary events.
const (
	CanaryCondition appsv1.DeploymentConditionType = "skiff.dev/Canary"

	reasonCanaryStepReached  = "CanaryStepReached"
	reasonCanaryStepPromoted = "CanaryStepPromoted"
	reasonCanaryHeld         = "CanaryStepHeld"
	reasonCanaryComplete     = "CanaryComplete"
)

// canary is the canary state of a rolling Deployment for its current
// revision.
type canary struct {
	steps   int            // steps as written
	reached int            // the last step reached by this revision, 0 for none
	next    rollout.Target // the step to hold at next
	hasNext bool           // false once the last step is passed: roll on
	hash    string         // the new ReplicaSet's pod-template-hash
	policy  rollout.Policy // the Deployment's
	targets []rollout.Target
}

// canaryOf returns the canary state of d's rollout to newRS, or nil when no
// step applies: no steps, not RollingUpdate, or no old pods left to replace.
func canaryOf(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) *canary {
	if newRS == nil || !isRollingUpdate(d) {
		return nil
	}
	policy, _ := rollout.Parse(d.Annotations)
	if len(policy.Steps) == 0 || sumReplicas(filterActive(oldRSs), specReplicas) == 0 {
		return nil
	}
	hash := newRS.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if hash == d.Annotations[rollout.StableHashAnnotation] {
		// Back to the revision that last completed (a rollback): no canary.
		return nil
	}
	c := &canary{steps: len(policy.Steps), reached: rollout.StepOf(d.Annotations, hash), hash: hash, policy: policy}
	c.targets = rollout.Targets(policy.Steps, desiredReplicas(d))
	// Steps below the new ReplicaSet's size are passed over: the controller
	// takes no pods from the new revision to make a step (one rolled back to
	// by hand, or grown by proportional scaling, may be larger already).
	reached := c.reached
	for {
		c.next, c.hasNext = rollout.Next(c.targets, reached)
		if !c.hasNext || c.next.Replicas >= replicasOf(newRS) {
			break
		}
		reached = c.next.Step
	}
	return c
}

// limit is how many pods the new ReplicaSet may have now.
func (c *canary) limit(d *appsv1.Deployment) int32 {
	if c == nil || !c.hasNext {
		return desiredReplicas(d)
	}
	return c.next.Replicas
}

// heldStep returns the target d is held at by the controller's own pause:
// paused, at a step this revision reached, with the condition saying so
// since. A pause by hand after a resume is not a hold.
func heldStep(d *appsv1.Deployment, c *canary) (rollout.Target, bool) {
	if c == nil || !d.Spec.Paused || c.reached == 0 {
		return rollout.Target{}, false
	}
	cond := getCondition(d.Status, CanaryCondition)
	if cond == nil || (cond.Reason != reasonCanaryStepReached && cond.Reason != reasonCanaryHeld) {
		return rollout.Target{}, false
	}
	for _, t := range c.targets {
		if t.Step == c.reached {
			return t, true
		}
	}
	// The step is no step at today's spec.replicas (scaled to 1, say).
	return rollout.Target{}, false
}

// stepReached reports whether the rollout stands at target t: the new
// ReplicaSet is sized to it, its status is current and shows that many
// available pods, and the old ReplicaSets run no more than the rest (a
// surge pod being deleted still counts until their status says it is gone).
func stepReached(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet, t rollout.Target) bool {
	return replicasOf(newRS) == t.Replicas &&
		newRS.Status.ObservedGeneration >= newRS.Generation &&
		newRS.Status.AvailableReplicas >= t.Replicas &&
		sumReplicas(oldRSs, podsAtMost) <= desiredReplicas(d)-t.Replicas
}

// floorOldScaleDown trims planned old scale-downs so that the old
// ReplicaSets keep at least floor pods between them: while the new
// ReplicaSet is held at a step, the old ones run the rest of spec.replicas
// rather than letting the total shrink (with maxUnavailable > 0 upstream's
// plan would count on the new ReplicaSet growing to refill it).
func floorOldScaleDown(steps []scaleStep, oldRSs []*appsv1.ReplicaSet, floor int32) []scaleStep {
	sizes := make(map[string]int32, len(oldRSs))
	var total int32
	for _, rs := range oldRSs {
		sizes[rs.Name] = replicasOf(rs)
		total += replicasOf(rs)
	}
	budget := max(0, total-floor)
	var out []scaleStep
	for _, s := range steps {
		cur := sizes[s.rs.Name]
		cut := min(cur-s.replicas, budget)
		if cut <= 0 {
			continue
		}
		budget -= cut
		sizes[s.rs.Name] = cur - cut
		s.replicas = cur - cut
		out = append(out, s)
	}
	return out
}

// planCanaryScale resizes a Deployment held at a canary step after
// spec.replicas changed: the new ReplicaSet gets the step recomputed for the
// new size (25% of 8 is 2 where 25% of 4 was 1), the old ones share the rest
// in proportion to their sizes (the largest takes what rounding leaves),
// and no surge is used, so the step's share holds exactly.
func planCanaryScale(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet, newCount int32) []scaleStep {
	replicas := desiredReplicas(d)
	operation := "up"
	if replicas < sumReplicas(withNew(oldRSs, newRS), specReplicas) {
		operation = "down"
	}
	steps := []scaleStep{{rs: newRS, replicas: newCount, proportional: true, operation: operation}}
	olds := filterActive(oldRSs)
	if len(olds) == 0 {
		return steps
	}
	sort.Sort(bySizeNewer(olds))
	rest := replicas - newCount
	current := sumReplicas(olds, specReplicas)
	sizes := make([]int32, len(olds))
	var given int32
	for i, rs := range olds {
		sizes[i] = rest * replicasOf(rs) / current
		given += sizes[i]
	}
	sizes[0] += rest - given
	for i, rs := range olds {
		steps = append(steps, scaleStep{rs: rs, replicas: sizes[i], proportional: true, operation: operation})
	}
	return steps
}

// holdAtStep pauses d at step t, records it and says so.
func (c *Controller) holdAtStep(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, cn *canary, t rollout.Target) error {
	held := d.DeepCopy()
	held.Spec.Paused = true
	if held.Annotations == nil {
		held.Annotations = map[string]string{}
	}
	reached := rollout.Reached{Step: t.Step, Of: cn.steps, Hash: cn.hash}
	held.Annotations[rollout.CanaryStepReachedAnnotation] = reached.String()
	updated, err := c.client.AppsV1().Deployments(d.Namespace).Update(ctx, held, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("pause deployment %s/%s at canary step %d/%d: %w", d.Namespace, d.Name, t.Step, cn.steps, err)
	}
	then := "resume with kubectl rollout resume"
	if cn.policy.StepPause > 0 {
		then = fmt.Sprintf("promoting in %s if the new pods stay healthy", cn.policy.StepPause)
	}
	msg := fmt.Sprintf("Reached canary step %d/%d: %d of %d pods run ReplicaSet %q; paused, %s", t.Step, cn.steps, t.Replicas, desiredReplicas(d), newRS.Name, then)
	c.recorder.Event(updated, v1.EventTypeNormal, reasonCanaryStepReached, msg)
	setCanaryCondition(&updated.Status, v1.ConditionTrue, reasonCanaryStepReached, msg, c.clock.Now())
	if err := c.writeStatus(ctx, updated); err != nil {
		return err
	}
	if cn.policy.StepPause > 0 {
		c.loop.AddAfter(d.Namespace+"/"+d.Name, cn.policy.StepPause)
	}
	return nil
}

// setCanaryCondition replaces the canary condition, times included: its
// lastUpdateTime is when the rollout reached or left the step, which
// step-pause counts from.
func setCanaryCondition(s *appsv1.DeploymentStatus, status v1.ConditionStatus, reason, msg string, now time.Time) {
	removeCondition(s, CanaryCondition)
	s.Conditions = append(s.Conditions, newCondition(CanaryCondition, status, reason, msg, now))
}

// notePromoted records that a held step was resumed (by kubectl rollout
// resume): a later pause by hand is then the user's, which step-pause does
// not lift.
func (c *Controller) notePromoted(ctx context.Context, d *appsv1.Deployment, cn *canary) error {
	cond := getCondition(d.Status, CanaryCondition)
	if cn == nil || d.Spec.Paused || cond == nil || (cond.Reason != reasonCanaryStepReached && cond.Reason != reasonCanaryHeld) {
		return nil
	}
	msg := fmt.Sprintf("Promoted from canary step %d/%d", cn.reached, cn.steps)
	if cn.hasNext {
		msg += fmt.Sprintf("; rolling on to step %d/%d (%d pods)", cn.next.Step, cn.steps, cn.next.Replicas)
	} else {
		msg += "; rolling on to all pods"
	}
	setCanaryCondition(&d.Status, v1.ConditionTrue, reasonCanaryStepPromoted, msg, c.clock.Now())
	return c.writeStatus(ctx, d)
}

// clearStaleStep removes the step a previous revision reached once the
// template changed: the new rollout starts from the first step.
func (c *Controller) clearStaleStep(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet) error {
	v, ok := d.Annotations[rollout.CanaryStepReachedAnnotation]
	if !ok || newRS == nil {
		return nil
	}
	if r, ok := rollout.ParseReached(v); ok && r.Hash == newRS.Labels[appsv1.DefaultDeploymentUniqueLabelKey] {
		return nil
	}
	delete(d.Annotations, rollout.CanaryStepReachedAnnotation)
	return c.writeStatus(ctx, d)
}

// promoteAfterPause lifts the controller's own pause once step-pause has
// passed since the step was reached, if the new pods are healthy; until then
// it asks to be woken when it passes. It reports whether it wrote.
func (c *Controller) promoteAfterPause(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, cn *canary) (bool, error) {
	t, held := heldStep(d, cn)
	if !held || cn.policy.StepPause <= 0 {
		return false, nil
	}
	cond := getCondition(d.Status, CanaryCondition)
	now := c.clock.Now()
	if wait := cond.LastUpdateTime.Add(cn.policy.StepPause).Sub(now); wait > 0 {
		c.loop.AddAfter(d.Namespace+"/"+d.Name, wait)
		return false, nil
	}
	if sig, _ := c.failureSignal(d, newRS, cn.policy); sig != nil {
		// Unhealthy: stay at the step (auto-rollback, if set, acts first).
		msg := fmt.Sprintf("Holding at canary step %d/%d: %s", t.Step, cn.steps, sig.message)
		if cond.Message != msg {
			c.recorder.Event(d, v1.EventTypeWarning, reasonCanaryHeld, msg)
			removeCondition(&d.Status, CanaryCondition)
			cond.Reason, cond.Message = reasonCanaryHeld, msg
			d.Status.Conditions = append(d.Status.Conditions, *cond) // keeps the time reached
			return true, c.writeStatus(ctx, d)
		}
		return false, nil
	}
	resumed := d.DeepCopy()
	resumed.Spec.Paused = false
	updated, err := c.client.AppsV1().Deployments(d.Namespace).Update(ctx, resumed, metav1.UpdateOptions{})
	if err != nil {
		return false, fmt.Errorf("resume deployment %s/%s after canary step %d/%d: %w", d.Namespace, d.Name, t.Step, cn.steps, err)
	}
	msg := fmt.Sprintf("Promoted from canary step %d/%d after %s with healthy pods", t.Step, cn.steps, cn.policy.StepPause)
	c.recorder.Event(updated, v1.EventTypeNormal, reasonCanaryStepPromoted, msg)
	setCanaryCondition(&updated.Status, v1.ConditionTrue, reasonCanaryStepPromoted, msg, now)
	return true, c.writeStatus(ctx, updated)
}

// syncPolicy applies the parts of the skiff.dev/ policy that come before
// the sync ladder: an automatic rollback, and lifting a canary hold whose
// step-pause has passed. It reports whether it acted; the write wakes the
// next sync.
func (c *Controller) syncPolicy(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (bool, error) {
	policy, _ := rollout.Parse(d.Annotations)
	if !policy.Enabled() {
		return false, nil
	}
	newRS := findNewReplicaSet(d, rsList)
	if newRS == nil {
		return false, nil
	}
	_, oldRSs := findOldReplicaSets(rsList, newRS)
	if acted, err := c.checkRollback(ctx, d, newRS, oldRSs, policy); err != nil || acted {
		return acted, err
	}
	return c.promoteAfterPause(ctx, d, newRS, canaryOf(d, newRS, oldRSs))
}
