package deployment

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// syncDeployment moves the Deployment with key one step towards its spec:
// deleted → status only; paused → scaling only; a scaling event → scaling;
// otherwise one step of its strategy. Each step writes status last.
func (c *Controller) syncDeployment(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.log.Error("invalid key", "key", key, "err", err)
		return nil
	}
	cached, err := c.deployments.Deployments(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	d := cached.DeepCopy()

	if reflect.DeepEqual(d.Spec.Selector, &metav1.LabelSelector{}) {
		c.recorder.Eventf(d, v1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			if _, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("update status of deployment %s: %w", key, err)
			}
		}
		return nil
	}

	// The ReplicaSets this Deployment controls, after adopting orphans that
	// match and releasing those that stopped matching.
	rsList, err := c.claimReplicaSets(ctx, d)
	if err != nil {
		return err
	}

	if d.DeletionTimestamp != nil {
		return c.syncStatusOnly(ctx, d, rsList)
	}

	// The opt-in skiff.dev/ policy: roll a failing revision back, or lift
	// the controller's own pause at a canary step.
	if acted, err := c.syncPolicy(ctx, d, rsList); err != nil || acted {
		return err
	}

	// Record pausing and resuming in Progressing, so that time spent paused
	// never counts against the progress deadline.
	if err := c.checkPausedConditions(ctx, d); err != nil {
		return err
	}
	if d.Spec.Paused {
		return c.sync(ctx, d, rsList)
	}

	scaling, err := c.isScalingEvent(ctx, d, rsList)
	if err != nil {
		return err
	}
	if scaling {
		return c.sync(ctx, d, rsList)
	}

	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		pods, err := c.podsByReplicaSet(d, rsList)
		if err != nil {
			return err
		}
		return c.rolloutRecreate(ctx, d, rsList, pods)
	case appsv1.RollingUpdateDeploymentStrategyType:
		return c.rolloutRolling(ctx, d, rsList)
	}
	return fmt.Errorf("unexpected deployment strategy type: %s", d.Spec.Strategy.Type)
}

// syncStatusOnly writes status and changes nothing else.
func (c *Controller) syncStatusOnly(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.replicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	return c.syncDeploymentStatus(ctx, withNew(oldRSs, newRS), newRS, d)
}

// sync handles scaling events and paused Deployments: it resizes the
// ReplicaSets (proportionally in the middle of a rollout) without rolling.
func (c *Controller) sync(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, oldRSs, err := c.replicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	steps := planScale(d, newRS, oldRSs)
	if t, held := heldStep(d, canaryOf(d, newRS, oldRSs)); held {
		steps = planCanaryScale(d, newRS, oldRSs, t.Replicas)
	}
	if _, err := c.applySteps(ctx, d, steps); err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := c.cleanupDeployment(ctx, oldRSs, d); err != nil {
			return err
		}
	}
	return c.syncDeploymentStatus(ctx, withNew(oldRSs, newRS), newRS, d)
}

// checkPausedConditions sets Progressing to Unknown/DeploymentPaused when
// the Deployment is paused and Unknown/DeploymentResumed when it is resumed,
// unless it already timed out.
func (c *Controller) checkPausedConditions(ctx context.Context, d *appsv1.Deployment) error {
	if !hasProgressDeadline(d) {
		return nil
	}
	cond := getCondition(d.Status, appsv1.DeploymentProgressing)
	if cond != nil && cond.Reason == reasonTimedOut {
		return nil
	}
	pausedNoted := cond != nil && cond.Reason == reasonPaused
	now := c.clock.Now()
	switch {
	case d.Spec.Paused && !pausedNoted:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, v1.ConditionUnknown, reasonPaused, "Deployment is paused", now))
	case !d.Spec.Paused && pausedNoted:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, v1.ConditionUnknown, reasonResumed, "Deployment is resumed", now))
	default:
		return nil
	}
	return c.writeStatus(ctx, d)
}

// writeStatus writes d's status and annotations through the status
// subresource and keeps d current (its resourceVersion above all), so that a
// later write in the same sync does not conflict with this one.
func (c *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment) error {
	updated, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update status of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	*d = *updated
	return nil
}

// replicaSetsAndSyncRevision splits rsList into the new ReplicaSet and the
// old ones, bringing the new one's revision (and the Deployment's) up to
// date. With create set, a missing new ReplicaSet is created.
func (c *Controller) replicaSetsAndSyncRevision(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	existing := findNewReplicaSet(d, rsList)
	_, oldRSs := findOldReplicaSets(rsList, existing)
	newRS, err := c.getNewReplicaSet(ctx, d, existing, oldRSs, create)
	if err != nil {
		return nil, nil, err
	}
	// Later steps of this sync must see the ReplicaSet as just written, not
	// the cached version a second update would conflict with.
	if existing != nil && newRS != existing {
		for i := range rsList {
			if rsList[i] == existing {
				rsList[i] = newRS
			}
		}
	}
	return newRS, oldRSs, nil
}

// getNewReplicaSet returns the ReplicaSet for the Deployment's current
// template, or nil if there is none and create is false.
//
// An existing one gets revision max(old revisions)+1 if it has a lower one
// (a rollback: its old number goes to revision-history), the Deployment's
// annotations and minReadySeconds. A new one is named
// <deployment>-<pod-template-hash>, selects and labels its pods with the
// hash, and starts at the size the strategy allows; a name taken by a
// ReplicaSet with another template is a hash collision, resolved by bumping
// status.collisionCount and trying again on the next sync.
func (c *Controller) getNewReplicaSet(ctx context.Context, d *appsv1.Deployment, existing *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, error) {
	newRevision := strconv.FormatInt(maxRevision(oldRSs)+1, 10)
	now := c.clock.Now()

	if existing != nil {
		rs := existing.DeepCopy()
		annotationsChanged := setNewReplicaSetAnnotations(d, rs, newRevision, true)
		if annotationsChanged || rs.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			updated, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
			if err != nil {
				return nil, fmt.Errorf("update replica set %s/%s: %w", rs.Namespace, rs.Name, err)
			}
			return updated, nil
		}
		// The ReplicaSet's revision is the reliable one; copy it up.
		needsUpdate := setDeploymentRevision(d, rs.Annotations[RevisionAnnotation])
		// A Deployment that never had a Progressing condition (one created
		// without a deadline, say) starts counting from here.
		if hasProgressDeadline(d) && getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
			msg := fmt.Sprintf("Found new replica set %q", rs.Name)
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, v1.ConditionTrue, reasonFoundNewRS, msg, now))
			needsUpdate = true
		}
		if needsUpdate {
			if err := c.writeStatus(ctx, d); err != nil {
				return nil, err
			}
		}
		return rs, nil
	}
	if !create {
		return nil, nil
	}

	hash := podTemplateHash(&d.Spec.Template, d.Status.CollisionCount)
	template := *d.Spec.Template.DeepCopy()
	template.Labels = withLabel(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	selector := d.Spec.Selector.DeepCopy()
	selector.MatchLabels = withLabel(selector.MatchLabels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	newRS := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			// Deterministic, so that creating twice is harmless.
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, controllerKind)},
			Labels:          template.Labels,
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        new(int32),
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        selector,
			Template:        template,
		},
	}
	replicas, err := newRSReplicas(d, withNew(oldRSs, newRS), newRS)
	if err != nil {
		return nil, err
	}
	// A canary's new ReplicaSet starts no bigger than the first step.
	replicas = min(replicas, canaryOf(d, newRS, oldRSs).limit(d))
	*newRS.Spec.Replicas = replicas
	setNewReplicaSetAnnotations(d, newRS, newRevision, false)

	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, newRS, metav1.CreateOptions{})
	alreadyExists := false
	switch {
	case apierrors.IsAlreadyExists(err):
		// A slow cache, or a hash collision.
		alreadyExists = true
		rs, getErr := c.replicaSets.ReplicaSets(newRS.Namespace).Get(newRS.Name)
		if getErr != nil {
			return nil, getErr
		}
		if ref := metav1.GetControllerOfNoCopy(rs); ref != nil && ref.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &rs.Spec.Template) {
			created, err = rs, nil
			break
		}
		// Another template owns the name: bump collisionCount so the next
		// sync computes another hash, and requeue through the error.
		prev := ptr.Deref(d.Status.CollisionCount, 0)
		d.Status.CollisionCount = ptr.To(prev + 1)
		if wErr := c.writeStatus(ctx, d); wErr == nil {
			c.log.Info("hash collision, bumping collisionCount", "deployment", d.Namespace+"/"+d.Name, "old", prev, "new", prev+1)
		}
		return nil, fmt.Errorf("create replica set %s/%s: %w", newRS.Namespace, newRS.Name, err)
	case apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause):
		return nil, err
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", newRS.Name, err)
		if hasProgressDeadline(d) {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, v1.ConditionFalse, reasonFailedRSCreate, msg, now))
			// The failure to report matters more than this write's outcome.
			_ = c.writeStatus(ctx, d)
		}
		c.recorder.Event(d, v1.EventTypeWarning, reasonFailedRSCreate, msg)
		return nil, fmt.Errorf("create replica set %s/%s: %w", newRS.Namespace, newRS.Name, err)
	}
	if !alreadyExists && replicas > 0 {
		c.recorder.Eventf(d, v1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, replicas)
	}

	needsUpdate := setDeploymentRevision(d, newRevision)
	if !alreadyExists && hasProgressDeadline(d) {
		msg := fmt.Sprintf("Created new replica set %q", created.Name)
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, v1.ConditionTrue, reasonNewReplicaSet, msg, now))
		needsUpdate = true
	}
	if needsUpdate {
		if err := c.writeStatus(ctx, d); err != nil {
			return created, err
		}
	}
	return created, nil
}

func withLabel(labels map[string]string, key, value string) map[string]string {
	out := make(map[string]string, len(labels)+1)
	for k, v := range labels {
		out[k] = v
	}
	out[key] = value
	return out
}

// applySteps resizes ReplicaSets as planned, in order, and reports whether
// any size changed. Later steps for the same ReplicaSet apply to the version
// the earlier ones wrote.
func (c *Controller) applySteps(ctx context.Context, d *appsv1.Deployment, steps []scaleStep) (bool, error) {
	latest := make(map[string]*appsv1.ReplicaSet)
	scaledAny := false
	for _, s := range steps {
		rs := s.rs
		if l, ok := latest[rs.Name]; ok {
			rs = l
		}
		var scaled bool
		var updated *appsv1.ReplicaSet
		var err error
		if s.proportional {
			scaled, updated, err = c.scaleReplicaSet(ctx, rs, s.replicas, d, s.operation)
		} else {
			scaled, updated, err = c.scaleReplicaSetAndRecordEvent(ctx, rs, s.replicas, d)
		}
		if err != nil {
			return scaledAny, err
		}
		latest[rs.Name] = updated
		scaledAny = scaledAny || scaled
	}
	return scaledAny, nil
}

// scaleReplicaSetAndRecordEvent resizes rs unless it already has newScale.
func (c *Controller) scaleReplicaSetAndRecordEvent(ctx context.Context, rs *appsv1.ReplicaSet, newScale int32, d *appsv1.Deployment) (bool, *appsv1.ReplicaSet, error) {
	if replicasOf(rs) == newScale {
		return false, rs, nil
	}
	operation := "down"
	if replicasOf(rs) < newScale {
		operation = "up"
	}
	return c.scaleReplicaSet(ctx, rs, newScale, d, operation)
}

// scaleReplicaSet writes newScale and the Deployment's current replica
// annotations to rs if either differs, and records ScalingReplicaSet when
// the size changed.
func (c *Controller) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, newScale int32, d *appsv1.Deployment, operation string) (bool, *appsv1.ReplicaSet, error) {
	desired := desiredReplicas(d)
	maxReplicas := desired + maxSurge(d)
	sizeChanged := replicasOf(rs) != newScale
	if !sizeChanged && !replicasAnnotationsNeedUpdate(rs, desired, maxReplicas) {
		return false, rs, nil
	}
	oldScale := replicasOf(rs)
	rsCopy := rs.DeepCopy()
	rsCopy.Spec.Replicas = ptr.To(newScale)
	setReplicasAnnotations(rsCopy, desired, maxReplicas)
	updated, err := c.client.AppsV1().ReplicaSets(rsCopy.Namespace).Update(ctx, rsCopy, metav1.UpdateOptions{})
	if err != nil {
		return false, rs, fmt.Errorf("scale replica set %s/%s to %d: %w", rs.Namespace, rs.Name, newScale, err)
	}
	if sizeChanged {
		c.recorder.Eventf(d, v1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", operation, updated.Name, oldScale, newScale)
	}
	return sizeChanged, updated, nil
}

// hasRevisionHistoryLimit reports whether old ReplicaSets are cleaned up;
// MaxInt32 (extensions/v1beta1's default) means keep them all.
func hasRevisionHistoryLimit(d *appsv1.Deployment) bool {
	return d.Spec.RevisionHistoryLimit != nil && *d.Spec.RevisionHistoryLimit != int32(^uint32(0)>>1)
}

// cleanupDeployment deletes the old ReplicaSets beyond revisionHistoryLimit
// that planHistoryCleanup picks.
func (c *Controller) cleanupDeployment(ctx context.Context, oldRSs []*appsv1.ReplicaSet, d *appsv1.Deployment) error {
	if !hasRevisionHistoryLimit(d) {
		return nil
	}
	for _, rs := range planHistoryCleanup(oldRSs, *d.Spec.RevisionHistoryLimit) {
		c.log.Debug("deleting old replica set", "deployment", d.Namespace+"/"+d.Name, "replicaset", rs.Name)
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			// Stop at the first failure rather than hammer the API server.
			return fmt.Errorf("delete old replica set %s/%s: %w", rs.Namespace, rs.Name, err)
		}
	}
	return nil
}

// syncDeploymentStatus writes the computed status if it changed.
func (c *Controller) syncDeploymentStatus(ctx context.Context, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	s := calculateStatus(allRSs, newRS, d, c.clock.Now())
	if reflect.DeepEqual(d.Status, s) {
		return nil
	}
	d.Status = s
	return c.writeStatus(ctx, d)
}

// calculateStatus derives the Deployment's status from its ReplicaSets':
// replicas counts running pods, updatedReplicas those of the new
// ReplicaSet, and Available says whether at least replicas - maxUnavailable
// are available.
func calculateStatus(allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment, now time.Time) appsv1.DeploymentStatus {
	available := sumReplicas(allRSs, availableReplicas)
	// More available than wanted happens while scaling down; not negative.
	unavailable := max(0, sumReplicas(allRSs, specReplicas)-available)
	var updated int32
	if newRS != nil {
		updated = newRS.Status.Replicas
	}
	s := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            sumReplicas(allRSs, actualReplicas),
		UpdatedReplicas:     updated,
		ReadyReplicas:       sumReplicas(allRSs, readyReplicas),
		AvailableReplicas:   available,
		UnavailableReplicas: unavailable,
		CollisionCount:      d.Status.CollisionCount,
		TerminatingReplicas: terminatingReplicas(allRSs),
	}
	// Copy, so that setting conditions does not write through to d.
	s.Conditions = append(s.Conditions, d.Status.Conditions...)

	if available >= desiredReplicas(d)-maxUnavailable(d) {
		setCondition(&s, newCondition(appsv1.DeploymentAvailable, v1.ConditionTrue, reasonMinimumAvailable, "Deployment has minimum availability.", now))
	} else {
		setCondition(&s, newCondition(appsv1.DeploymentAvailable, v1.ConditionFalse, reasonMinimumUnavailable, "Deployment does not have minimum availability.", now))
	}
	return s
}

// isScalingEvent reports whether spec.replicas changed since the active
// ReplicaSets were last sized, as their desired-replicas annotation records.
func (c *Controller) isScalingEvent(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (bool, error) {
	newRS, oldRSs, err := c.replicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return false, err
	}
	for _, rs := range filterActive(withNew(oldRSs, newRS)) {
		desired, ok := intAnnotation(rs, DesiredReplicasAnnotation)
		if ok && desired != desiredReplicas(d) {
			return true, nil
		}
	}
	return false, nil
}
