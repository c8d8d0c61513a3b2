package rollout

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// Target is a canary step resolved against spec.replicas: hold the new
// ReplicaSet at Replicas pods. Step is the step's place (from 1) in the
// annotation as written.
type Target struct {
	Step     int
	Replicas int32
}

// Targets resolves steps against replicas. A percentage rounds up, as a
// share of pods does for Argo Rollouts' setWeight without traffic routing
// (25% of 3 is 1 pod). A step that comes to no more pods than the one before
// it, or to all of spec.replicas, is no step at this size and is left out:
// "1,25%,50%" of 3 replicas holds at 1 pod (step 1) and 2 pods (step 3).
func Targets(steps []intstr.IntOrString, replicas int32) []Target {
	var out []Target
	var prev int32
	for i, s := range steps {
		n, err := intstr.GetScaledValueFromIntOrPercent(&s, int(replicas), true)
		if err != nil {
			continue
		}
		count := int32(n)
		if count <= prev || count >= replicas {
			continue
		}
		out = append(out, Target{Step: i + 1, Replicas: count})
		prev = count
	}
	return out
}

// Next returns the first target after step reached (0: none reached yet),
// and false when none is left: the rollout may complete.
func Next(targets []Target, reached int) (Target, bool) {
	for _, t := range targets {
		if t.Step > reached {
			return t, true
		}
	}
	return Target{}, false
}

// Reached is the value of CanaryStepReachedAnnotation: step Step of Of was
// reached by the revision with pod-template-hash Hash.
type Reached struct {
	Step, Of int
	Hash     string
}

func (r Reached) String() string { return fmt.Sprintf("%d/%d %s", r.Step, r.Of, r.Hash) }

// ParseReached reads CanaryStepReachedAnnotation; ok is false for a value
// this package did not write.
func ParseReached(v string) (r Reached, ok bool) {
	if _, err := fmt.Sscanf(v, "%d/%d %s", &r.Step, &r.Of, &r.Hash); err != nil || r.Step < 1 || r.Of < r.Step {
		return Reached{}, false
	}
	return r, true
}

// StepOf is the step reached for the revision with hash: 0 when the
// annotation is missing, malformed or about another revision (a new rollout
// starts from the first step).
func StepOf(annotations map[string]string, hash string) int {
	r, ok := ParseReached(annotations[CanaryStepReachedAnnotation])
	if !ok || r.Hash != hash {
		return 0
	}
	return r.Step
}
