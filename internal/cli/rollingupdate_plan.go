package cli

// The pure planning half of `skiff rolling-update`: how far each controller scales in one step.

// rollLimits bound a rolling update: at most desired+maxSurge pods exist, and at least
// desired-maxUnavailable of them are available. kubectl always used surge 1, unavailable 0.
type rollLimits struct{ maxSurge, maxUnavailable int32 }

// rollState is what one pass of the rolling update sees.
type rollState struct {
	desired      int32 // the new controller's final replicas
	oldReplicas  int32 // the old controller's spec.replicas
	newReplicas  int32 // the new controller's spec.replicas
	newAvailable int32 // the new controller's pods available now
}

// bounds returns the fewest pods kept available and the most pods allowed. With nothing to roll
// to, the old pods may all go at once.
func (l rollLimits) bounds(s rollState) (minAvailable, maxTotal int32) {
	if s.desired == 0 {
		return 0, l.maxSurge
	}
	return max(0, s.desired-l.maxUnavailable), s.desired + l.maxSurge
}

// planScaleUp returns the new controller's next replicas: up as far as the surge allows, and
// all the way once the old controller is gone.
func planScaleUp(s rollState, l rollLimits) int32 {
	if s.newReplicas >= s.desired {
		return s.newReplicas
	}
	if s.oldReplicas == 0 {
		return s.desired
	}
	_, maxTotal := l.bounds(s)
	if up := maxTotal - (s.oldReplicas + s.newReplicas); up > 0 {
		return min(s.desired, s.newReplicas+up)
	}
	return s.newReplicas
}

// planScaleDown returns the old controller's next replicas: down as far as keeping minAvailable
// allows, counting every old pod as available (kubectl's choice: it does not wait for old pods)
// and only the new pods that are; straight to 0 once every new pod is available.
//
// Worked example, 3 replicas, surge 1, unavailable 0: old 3, new 1 of which 1 available: 4 pods,
// 0 new ones unavailable, so 4-3-0 = 1 may go: old to 2. Had the new pod not been ready, 4-3-1 = 0:
// wait.
func planScaleDown(s rollState, l rollLimits) int32 {
	if s.oldReplicas == 0 {
		return 0
	}
	if s.newReplicas == s.desired && s.newAvailable >= s.desired {
		return 0
	}
	minAvailable, _ := l.bounds(s)
	newUnavailable := s.newReplicas - s.newAvailable
	down := s.oldReplicas + s.newReplicas - minAvailable - newUnavailable
	if down <= 0 {
		return s.oldReplicas
	}
	return max(0, s.oldReplicas-down)
}
