package rollout

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		want        Policy
		errPath     string // the one error's field path, if any
	}{
		{name: "none is upstream's rollout", want: Policy{MaxRestarts: -1}},
		{name: "other annotations are ignored", annotations: map[string]string{"kubernetes.io/change-cause": "x"}, want: Policy{MaxRestarts: -1}},
		{name: "everything", annotations: map[string]string{
			CanaryStepsAnnotation: "1,25%,50%", StepPauseAnnotation: "2m", AutoRollbackAnnotation: "true",
			MaxRestartsAnnotation: "3", MaxUnreadyAnnotation: "90s",
		}, want: Policy{
			Steps:     []intstr.IntOrString{intstr.FromInt32(1), intstr.FromString("25%"), intstr.FromString("50%")},
			StepPause: 2 * time.Minute, AutoRollback: true, MaxRestarts: 3, MaxUnready: 90 * time.Second,
		}},
		{name: "auto-rollback false", annotations: map[string]string{AutoRollbackAnnotation: "false"}, want: Policy{MaxRestarts: -1}},
		{name: "max-restarts 0: any restart fails", annotations: map[string]string{MaxRestartsAnnotation: "0"}, want: Policy{MaxRestarts: 0}},
		{name: "150%", annotations: map[string]string{CanaryStepsAnnotation: "150%"}, errPath: "metadata.annotations[skiff.dev/canary-steps]"},
		{name: "100%", annotations: map[string]string{CanaryStepsAnnotation: "1,100%"}, errPath: "metadata.annotations[skiff.dev/canary-steps]"},
		{name: "-3", annotations: map[string]string{CanaryStepsAnnotation: "-3"}, errPath: "metadata.annotations[skiff.dev/canary-steps]"},
		{name: "0", annotations: map[string]string{CanaryStepsAnnotation: "0"}, errPath: "metadata.annotations[skiff.dev/canary-steps]"},
		{name: "0%", annotations: map[string]string{CanaryStepsAnnotation: "0%"}, errPath: "metadata.annotations[skiff.dev/canary-steps]"},
		{name: "decreasing counts", annotations: map[string]string{CanaryStepsAnnotation: "3,1"}, errPath: "metadata.annotations[skiff.dev/canary-steps]"},
		{name: "decreasing percentages", annotations: map[string]string{CanaryStepsAnnotation: "50%,25%"}, errPath: "metadata.annotations[skiff.dev/canary-steps]"},
		{name: "repeated step", annotations: map[string]string{CanaryStepsAnnotation: "25%,25%"}, errPath: "metadata.annotations[skiff.dev/canary-steps]"},
		{name: "count after percentage", annotations: map[string]string{CanaryStepsAnnotation: "25%,2"}, errPath: "metadata.annotations[skiff.dev/canary-steps]"},
		{name: "empty steps", annotations: map[string]string{CanaryStepsAnnotation: ""}, errPath: "metadata.annotations[skiff.dev/canary-steps]"},
		{name: "empty step", annotations: map[string]string{CanaryStepsAnnotation: "1,,50%"}, errPath: "metadata.annotations[skiff.dev/canary-steps]"},
		{name: "unknown duration", annotations: map[string]string{StepPauseAnnotation: "2 minutes"}, errPath: "metadata.annotations[skiff.dev/step-pause]"},
		{name: "zero duration", annotations: map[string]string{MaxUnreadyAnnotation: "0s"}, errPath: "metadata.annotations[skiff.dev/max-unready]"},
		{name: "auto-rollback maybe", annotations: map[string]string{AutoRollbackAnnotation: "maybe"}, errPath: "metadata.annotations[skiff.dev/auto-rollback]"},
		{name: "max-restarts -3", annotations: map[string]string{MaxRestartsAnnotation: "-3"}, errPath: "metadata.annotations[skiff.dev/max-restarts]"},
		{name: "max-restarts three", annotations: map[string]string{MaxRestartsAnnotation: "three"}, errPath: "metadata.annotations[skiff.dev/max-restarts]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := Parse(tt.annotations)
			if tt.errPath != "" {
				if len(errs) != 1 || errs[0].Field != tt.errPath || !strings.Contains(errs[0].Error(), "must be") {
					t.Fatalf("errors = %v, want one Invalid at %s saying what it accepts", errs, tt.errPath)
				}
				return
			}
			if len(errs) != 0 {
				t.Fatalf("errors = %v", errs)
			}
			if got.StepPause != tt.want.StepPause || got.AutoRollback != tt.want.AutoRollback || got.MaxRestarts != tt.want.MaxRestarts ||
				got.MaxUnready != tt.want.MaxUnready || len(got.Steps) != len(tt.want.Steps) {
				t.Fatalf("policy = %+v, want %+v", got, tt.want)
			}
			for i := range got.Steps {
				if got.Steps[i] != tt.want.Steps[i] {
					t.Errorf("step %d = %v, want %v", i, got.Steps[i], tt.want.Steps[i])
				}
			}
		})
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name     string
		steps    string
		replicas int32
		want     []Target
	}{
		{name: "1,50% of 4", steps: "1,50%", replicas: 4, want: []Target{{1, 1}, {2, 2}}},
		{name: "25% of 3 rounds up to 1 and is no step after 1", steps: "1,25%,50%", replicas: 3, want: []Target{{1, 1}, {3, 2}}},
		{name: "1,25%,50% of 10", steps: "1,25%,50%", replicas: 10, want: []Target{{1, 1}, {2, 3}, {3, 5}}},
		{name: "a count of all replicas is no step", steps: "1,3", replicas: 3, want: []Target{{1, 1}}},
		{name: "99% of 3 is all pods: no step", steps: "50%,99%", replicas: 3, want: []Target{{1, 2}}},
		{name: "one replica has no canary", steps: "1,50%", replicas: 1, want: nil},
		{name: "recomputed after scaling to 8", steps: "1,50%", replicas: 8, want: []Target{{1, 1}, {2, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps, err := ParseSteps(tt.steps)
			if err != nil {
				t.Fatal(err)
			}
			got := Targets(steps, tt.replicas)
			if len(got) != len(tt.want) {
				t.Fatalf("targets = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("targets = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestReached(t *testing.T) {
	r := Reached{Step: 1, Of: 3, Hash: "5d4b8c9f7"}
	if r.String() != "1/3 5d4b8c9f7" {
		t.Errorf("String = %q", r.String())
	}
	a := map[string]string{CanaryStepReachedAnnotation: r.String()}
	if got := StepOf(a, "5d4b8c9f7"); got != 1 {
		t.Errorf("StepOf same revision = %d, want 1", got)
	}
	if got := StepOf(a, "other"); got != 0 {
		t.Errorf("StepOf another revision = %d, want 0: a new rollout starts from step 1", got)
	}
	for _, bad := range []string{"", "x", "0/3 h", "4/3 h", "1/3"} {
		if _, ok := ParseReached(bad); ok {
			t.Errorf("ParseReached(%q) ok", bad)
		}
	}
}
