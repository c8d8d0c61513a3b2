package rollout

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Prefix is the prefix of every annotation this package defines.
const Prefix = "skiff.dev/"

// The annotations a user sets (kubectl annotate, apply, helm).
const (
	// CanaryStepsAnnotation lists the shares of spec.replicas at which a
	// rolling update pauses itself: pod counts or percentages, strictly
	// increasing, e.g. "1,25%,50%".
	CanaryStepsAnnotation = Prefix + "canary-steps"
	// StepPauseAnnotation is how long a rollout holds at a step before it
	// promotes itself, if the new pods stay healthy (a Go duration, "2m").
	StepPauseAnnotation = Prefix + "step-pause"
	// AutoRollbackAnnotation ("true") rolls a failing revision back to the
	// last one that completed.
	AutoRollbackAnnotation = Prefix + "auto-rollback"
	// MaxRestartsAnnotation: a new pod restarting more often than this fails
	// the revision.
	MaxRestartsAnnotation = Prefix + "max-restarts"
	// MaxUnreadyAnnotation: a new pod not Ready for longer than this fails
	// the revision (a Go duration).
	MaxUnreadyAnnotation = Prefix + "max-unready"
)

// The annotations the Deployment controller writes.
const (
	// CanaryStepReachedAnnotation records the last step a rollout reached and
	// the pod-template-hash of the revision it applies to: "1/3 5d4b8c9f7".
	CanaryStepReachedAnnotation = Prefix + "canary-step"
	// StableHashAnnotation is the pod-template-hash of the last revision
	// whose rollout completed: where an automatic rollback returns to.
	StableHashAnnotation = Prefix + "stable-pod-template-hash"
	// RolledBackFromAnnotation is the pod-template-hash of the revision last
	// rolled back automatically.
	RolledBackFromAnnotation = Prefix + "rolled-back-from"
)

// Policy is what a Deployment's annotations ask of its rollouts. The zero
// Policy asks nothing: the rollout is upstream's.
type Policy struct {
	// Steps are the canary steps as written, in order.
	Steps []intstr.IntOrString
	// StepPause is how long to hold at a step before promoting; 0 holds
	// until kubectl rollout resume.
	StepPause time.Duration
	// AutoRollback rolls a failing revision back.
	AutoRollback bool
	// MaxRestarts is the most restarts a new pod may have; -1 when unset.
	MaxRestarts int32
	// MaxUnready is the longest a new pod may stay not Ready; 0 when unset.
	MaxUnready time.Duration
}

// Enabled reports whether the policy asks for anything at all.
func (p Policy) Enabled() bool {
	return len(p.Steps) > 0 || p.AutoRollback || p.StepPause > 0 || p.MaxRestarts >= 0 || p.MaxUnready > 0
}

// Messages saying what each annotation accepts.
const (
	stepsMsg    = `must be a comma-separated list of pod counts or percentages of spec.replicas, each above 0 and below 100%, strictly increasing, with counts before percentages (e.g. "1,25%,50%")`
	durationMsg = `must be a positive Go duration (e.g. "30s", "2m", "1h30m")`
	boolMsg     = `must be "true" or "false"`
	restartsMsg = `must be a non-negative integer (e.g. "3")`
)

func annotationPath(key string) *field.Path {
	return field.NewPath("metadata", "annotations").Key(key)
}

// Parse reads the policy from a Deployment's annotations. Each annotation
// that does not parse is an Invalid error at
// metadata.annotations[<name>], saying what it accepts; the policy then
// leaves that annotation out.
func Parse(annotations map[string]string) (Policy, field.ErrorList) {
	p := Policy{MaxRestarts: -1}
	var errs field.ErrorList
	if v, ok := annotations[CanaryStepsAnnotation]; ok {
		steps, err := ParseSteps(v)
		if err != nil {
			errs = append(errs, field.Invalid(annotationPath(CanaryStepsAnnotation), v, stepsMsg))
		}
		p.Steps = steps
	}
	for _, d := range []struct {
		key string
		to  *time.Duration
	}{{StepPauseAnnotation, &p.StepPause}, {MaxUnreadyAnnotation, &p.MaxUnready}} {
		v, ok := annotations[d.key]
		if !ok {
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil || dur <= 0 {
			errs = append(errs, field.Invalid(annotationPath(d.key), v, durationMsg))
			continue
		}
		*d.to = dur
	}
	if v, ok := annotations[AutoRollbackAnnotation]; ok {
		switch v {
		case "true":
			p.AutoRollback = true
		case "false":
		default:
			errs = append(errs, field.Invalid(annotationPath(AutoRollbackAnnotation), v, boolMsg))
		}
	}
	if v, ok := annotations[MaxRestartsAnnotation]; ok {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			errs = append(errs, field.Invalid(annotationPath(MaxRestartsAnnotation), v, restartsMsg))
		} else {
			p.MaxRestarts = int32(n)
		}
	}
	return p, errs
}

// ParseSteps parses a canary-steps value: comma-separated positive pod
// counts and percentages between 1% and 99%, strictly increasing. Counts
// and percentages compare only once spec.replicas is known, so counts come
// first: "1,2,25%,50%" is accepted, "25%,2" is not.
func ParseSteps(v string) ([]intstr.IntOrString, error) {
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("no steps")
	}
	var steps []intstr.IntOrString
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		var step intstr.IntOrString
		if pct, ok := strings.CutSuffix(s, "%"); ok {
			n, err := strconv.Atoi(pct)
			if err != nil || n <= 0 || n >= 100 {
				return nil, fmt.Errorf("step %q is not a percentage between 1%% and 99%%", s)
			}
			step = intstr.FromString(strconv.Itoa(n) + "%")
		} else {
			n, err := strconv.ParseInt(s, 10, 32)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("step %q is not a positive pod count", s)
			}
			step = intstr.FromInt32(int32(n))
		}
		if len(steps) > 0 {
			prev := steps[len(steps)-1]
			switch {
			case prev.Type == intstr.String && step.Type == intstr.Int:
				return nil, fmt.Errorf("count %q follows a percentage", s)
			case prev.Type == step.Type && value(step) <= value(prev):
				return nil, fmt.Errorf("step %q does not increase", s)
			}
		}
		steps = append(steps, step)
	}
	return steps, nil
}

func value(s intstr.IntOrString) int {
	if s.Type == intstr.String {
		n, _ := strconv.Atoi(strings.TrimSuffix(s.StrVal, "%"))
		return n
	}
	return int(s.IntVal)
}

// Validate is the API server's check of a Deployment's skiff.dev/
// annotations: each must parse, and canary steps need the RollingUpdate
// strategy (as spec.strategy.rollingUpdate does: a Recreate rollout has no
// share of new pods to hold at).
func Validate(annotations map[string]string, strategy appsv1.DeploymentStrategyType) field.ErrorList {
	_, errs := Parse(annotations)
	if _, ok := annotations[CanaryStepsAnnotation]; ok && strategy == appsv1.RecreateDeploymentStrategyType {
		errs = append(errs, field.Forbidden(annotationPath(CanaryStepsAnnotation),
			"may not be set when strategy `type` is 'Recreate': canary steps hold a share of a RollingUpdate"))
	}
	return errs
}
