package deployment

import (
	"fmt"
	"math"
	"slices"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// scaleStep sets one ReplicaSet to a new size.
type scaleStep struct {
	rs       *appsv1.ReplicaSet
	replicas int32
	// proportional steps come from one scaling event spread over several
	// ReplicaSets: they rewrite the replica annotations even when the size
	// stays, and operation ("up", "down" or "") names the event's direction.
	proportional bool
	operation    string
}

// resolveFenceposts turns maxSurge and maxUnavailable into counts for
// desired replicas: surge rounds up, unavailability rounds down, and if both
// come to zero maxUnavailable becomes 1, so that a rollout can always move.
func resolveFenceposts(maxSurge, maxUnavailable *intstr.IntOrString, desired int32) (surge, unavailable int32, err error) {
	s, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(maxSurge, intstr.FromInt32(0)), int(desired), true)
	if err != nil {
		return 0, 0, fmt.Errorf("maxSurge: %w", err)
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(maxUnavailable, intstr.FromInt32(0)), int(desired), false)
	if err != nil {
		return 0, 0, fmt.Errorf("maxUnavailable: %w", err)
	}
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u), nil
}

func isRollingUpdate(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType
}

func rollingParams(d *appsv1.Deployment) (maxSurge, maxUnavailable *intstr.IntOrString) {
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		return ru.MaxSurge, ru.MaxUnavailable
	}
	return nil, nil
}

// maxSurge is how many pods a rolling Deployment may run above spec.replicas.
func maxSurge(d *appsv1.Deployment) int32 {
	if !isRollingUpdate(d) {
		return 0
	}
	s, u := rollingParams(d)
	surge, _, _ := resolveFenceposts(s, u, desiredReplicas(d))
	return surge
}

// maxUnavailable is how many of spec.replicas may be unavailable, never more
// than spec.replicas.
func maxUnavailable(d *appsv1.Deployment) int32 {
	replicas := desiredReplicas(d)
	if !isRollingUpdate(d) || replicas == 0 {
		return 0
	}
	s, u := rollingParams(d)
	_, unavailable, _ := resolveFenceposts(s, u, replicas)
	return min(unavailable, replicas)
}

// newRSReplicas is the size the new ReplicaSet may grow to now. Rolling: as
// far as the surge allows over all ReplicaSets' pods, but not past
// spec.replicas. Recreate: spec.replicas at once.
//
// Upstream counts spec.replicas only, so for the moment between an old
// ReplicaSet being scaled down and its controller deleting the pods, the new
// pods could push the total past replicas+maxSurge. Counting an old
// ReplicaSet's pods as status.replicas until its status catches up keeps the
// bound exact, at the cost of waiting for that status write.
func newRSReplicas(d *appsv1.Deployment, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (int32, error) {
	replicas := desiredReplicas(d)
	switch d.Spec.Strategy.Type {
	case appsv1.RollingUpdateDeploymentStrategyType:
		s, _ := rollingParams(d)
		surge, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(s, intstr.FromInt32(0)), int(replicas), true)
		if err != nil {
			return 0, err
		}
		current := sumReplicas(allRSs, podsAtMost)
		maxTotal := replicas + int32(surge)
		if current >= maxTotal {
			return replicasOf(newRS), nil
		}
		up := min(maxTotal-current, replicas-replicasOf(newRS))
		return replicasOf(newRS) + up, nil
	case appsv1.RecreateDeploymentStrategyType:
		return replicas, nil
	default:
		return 0, fmt.Errorf("deployment strategy %q isn't supported", d.Spec.Strategy.Type)
	}
}

// planOldScaleDown decides how far the old ReplicaSets of a rolling
// Deployment shrink in this step. allRSs are every ReplicaSet (old and new),
// oldRSs the active old ones.
//
// The budget is maxScaledDown = all replicas - minAvailable - the new
// ReplicaSet's unavailable replicas. Unhealthy old replicas (wanted but not
// available) go first, since removing them costs no availability; then old
// replicas go as far as availability stays above minAvailable.
//
// For example, with 10 replicas, maxUnavailable 2 and maxSurge 3: the new
// ReplicaSet is created at 3 and the old one shrinks to 8, then the new one
// grows to 5. If the new pods crashloop, 13 - 8 - 5 = 0 and nothing more is
// scaled down. Rolling back makes the crashlooping set "old": only 1 new pod
// is unavailable, 13 - 8 - 1 = 4 crashlooping pods go, and the good set can
// grow back to 10.
func planOldScaleDown(d *appsv1.Deployment, allRSs, oldRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) []scaleStep {
	if sumReplicas(oldRSs, specReplicas) == 0 {
		return nil
	}
	minAvailable := desiredReplicas(d) - maxUnavailable(d)
	newUnavailable := replicasOf(newRS) - newRS.Status.AvailableReplicas
	maxScaledDown := sumReplicas(allRSs, specReplicas) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return nil
	}

	olds := slices.Clone(oldRSs)
	sort.Sort(byCreation(olds))
	sizes := make([]int32, len(olds))
	for i, rs := range olds {
		sizes[i] = replicasOf(rs)
	}
	var steps []scaleStep

	// Unhealthy replicas first, oldest ReplicaSet first: the ReplicaSet
	// controller deletes not-ready pods before ready ones.
	var cleaned int32
	for i, rs := range olds {
		if cleaned >= maxScaledDown {
			break
		}
		if sizes[i] == 0 || sizes[i] == rs.Status.AvailableReplicas {
			continue
		}
		if sizes[i] < rs.Status.AvailableReplicas {
			// Status shows more available than wanted: it is stale; wait for
			// the ReplicaSet controller rather than act on it.
			return nil
		}
		n := min(maxScaledDown-cleaned, sizes[i]-rs.Status.AvailableReplicas)
		sizes[i] -= n
		cleaned += n
		steps = append(steps, scaleStep{rs: rs, replicas: sizes[i]})
	}

	// Then healthy old replicas, while availability stays above minAvailable.
	// A ReplicaSet is not counted as having more available pods than it
	// wants: any surplus is about to be deleted (upstream counts it, and may
	// dip below minAvailable while the deletions catch up).
	available := min(newRS.Status.AvailableReplicas, replicasOf(newRS))
	for i, rs := range olds {
		available += min(rs.Status.AvailableReplicas, sizes[i])
	}
	if available <= minAvailable {
		return steps
	}
	budget := available - minAvailable
	var scaled int32
	for i, rs := range olds {
		if scaled >= budget {
			break
		}
		if sizes[i] == 0 {
			continue
		}
		n := min(sizes[i], budget-scaled)
		sizes[i] -= n
		scaled += n
		steps = append(steps, scaleStep{rs: rs, replicas: sizes[i]})
	}
	return steps
}

// planScale handles a change of spec.replicas (or a paused Deployment):
//   - a single active ReplicaSet (or the newest, if none is active) takes the
//     whole new size;
//   - a saturated new ReplicaSet means the old ones go to zero;
//   - otherwise, for RollingUpdate, the difference between the allowed size
//     (replicas + maxSurge) and the current total is spread over the active
//     ReplicaSets in proportion to their size, so a rollout in progress keeps
//     its ratio of old to new. Scaling up favours larger then newer sets,
//     scaling down larger then older ones; the remainder goes to the first.
func planScale(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) []scaleStep {
	replicas := desiredReplicas(d)
	if rs := findActiveOrLatest(newRS, oldRSs); rs != nil {
		if replicasOf(rs) == replicas {
			return nil
		}
		return []scaleStep{{rs: rs, replicas: replicas}}
	}
	if isSaturated(d, newRS) {
		var steps []scaleStep
		for _, old := range filterActive(oldRSs) {
			steps = append(steps, scaleStep{rs: old, replicas: 0})
		}
		return steps
	}
	if !isRollingUpdate(d) {
		return nil
	}

	active := filterActive(withNew(oldRSs, newRS))
	var allowed int32
	if replicas > 0 {
		allowed = replicas + maxSurge(d)
	}
	toAdd := allowed - sumReplicas(active, specReplicas)
	operation := ""
	switch {
	case toAdd > 0:
		sort.Sort(bySizeNewer(active))
		operation = "up"
	case toAdd < 0:
		sort.Sort(bySizeOlder(active))
		operation = "down"
	}

	sizes := make([]int32, len(active))
	var added int32
	for i, rs := range active {
		sizes[i] = replicasOf(rs)
		if toAdd != 0 {
			p := replicaSetProportion(rs, d, toAdd, added)
			sizes[i] += p
			added += p
		}
	}
	if toAdd != 0 && len(active) > 0 {
		sizes[0] = max(0, sizes[0]+toAdd-added)
	}

	steps := make([]scaleStep, len(active))
	for i, rs := range active {
		steps[i] = scaleStep{rs: rs, replicas: sizes[i], proportional: true, operation: operation}
	}
	return steps
}

// replicaSetProportion is how many replicas rs gains (or loses, negative)
// out of toAdd, given that added have been handed out already: its share by
// size, never more than what is left.
func replicaSetProportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if rs == nil || replicasOf(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	fraction := replicaSetFraction(rs, d)
	allowed := toAdd - added
	if toAdd > 0 {
		return min(fraction, allowed)
	}
	return max(fraction, allowed)
}

// replicaSetFraction estimates rs's size at the Deployment's new maximum from
// its size at the maximum it was last scaled for (the max-replicas
// annotation), and returns the difference.
func replicaSetFraction(rs *appsv1.ReplicaSet, d *appsv1.Deployment) int32 {
	replicas := desiredReplicas(d)
	if replicas == 0 {
		return -replicasOf(rs)
	}
	newMax := replicas + maxSurge(d)
	oldMax, ok := intAnnotation(rs, MaxReplicasAnnotation)
	if !ok || oldMax == 0 {
		// Edited by hand or by an older controller: the current size of the
		// Deployment is the best guess; the min/max in the caller keep the
		// result within bounds.
		oldMax = d.Status.Replicas
	}
	if oldMax == 0 {
		return 0
	}
	size := float64(replicasOf(rs)*newMax) / float64(oldMax)
	return int32(math.Round(size)) - replicasOf(rs)
}

// podsAtMost bounds the pods a ReplicaSet runs: what it wants, or what it
// last reported while a scale-down has not been carried out yet.
func podsAtMost(rs *appsv1.ReplicaSet) int32 {
	return max(replicasOf(rs), rs.Status.Replicas)
}
