package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
)

// rolloutRolling takes one step of a RollingUpdate: grow the new ReplicaSet
// if the surge allows; otherwise shrink old ones if availability allows;
// once complete, clean up old revisions. Status is written after any step.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.replicaSetsAndSyncRevision(ctx, d, rsList, true)
	if err != nil {
		return err
	}
	allRSs := withNew(oldRSs, newRS)

	// Canary steps cap the new ReplicaSet at the next step's share.
	if err := c.clearStaleStep(ctx, d, newRS); err != nil {
		return err
	}
	cn := canaryOf(d, newRS, oldRSs)
	if err := c.notePromoted(ctx, d, cn); err != nil {
		return err
	}

	scaledUp, err := c.reconcileNewReplicaSet(ctx, allRSs, newRS, d, cn.limit(d))
	if err != nil {
		return err
	}
	if scaledUp {
		return c.syncRolloutStatus(ctx, allRSs, newRS, d)
	}

	scaleDown := planOldScaleDown(d, allRSs, filterActive(oldRSs), newRS)
	if cn != nil && cn.hasNext {
		scaleDown = floorOldScaleDown(scaleDown, filterActive(oldRSs), desiredReplicas(d)-cn.next.Replicas)
	}
	scaledDown, err := c.applySteps(ctx, d, scaleDown)
	if err != nil {
		return err
	}
	if scaledDown {
		return c.syncRolloutStatus(ctx, allRSs, newRS, d)
	}

	if cn != nil && cn.hasNext && stepReached(d, newRS, oldRSs, cn.next) {
		return c.holdAtStep(ctx, d, newRS, cn, cn.next)
	}

	if deploymentComplete(d, &d.Status) {
		if err := c.cleanupDeployment(ctx, oldRSs, d); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, allRSs, newRS, d)
}

// reconcileNewReplicaSet sizes the new ReplicaSet: down to want if above,
// else up as far as newRSReplicas allows but not past want. want is
// spec.replicas, or a canary step's share (never below the new ReplicaSet's
// size): surge never overshoots a step.
func (c *Controller) reconcileNewReplicaSet(ctx context.Context, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment, want int32) (bool, error) {
	if replicasOf(newRS) == want {
		return false, nil
	}
	if replicasOf(newRS) > want {
		scaled, _, err := c.scaleReplicaSetAndRecordEvent(ctx, newRS, want, d)
		return scaled, err
	}
	size, err := newRSReplicas(d, allRSs, newRS)
	if err != nil {
		return false, err
	}
	scaled, _, err := c.scaleReplicaSetAndRecordEvent(ctx, newRS, min(size, want), d)
	return scaled, err
}
