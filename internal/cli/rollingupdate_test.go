package cli

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// simulateRollingUpdate runs the planning passes of a rolling update as rollingUpdater.update
// does, with the new controller's pods becoming available as ready says (given the pass number
// and how many new replicas there are), and returns the steps it would print. It stops after
// passes passes without finishing.
func simulateRollingUpdate(s rollState, l rollLimits, ready func(pass int, newReplicas int32) int32, passes int) []string {
	var steps []string
	for pass := 0; pass < passes && (s.newReplicas != s.desired || s.oldReplicas != 0); pass++ {
		if n := planScaleUp(s, l); n != s.newReplicas {
			steps = append(steps, fmt.Sprintf("up to %d", n))
			s.newReplicas = n
		}
		s.newAvailable = ready(pass, s.newReplicas)
		if s.oldReplicas > 0 {
			if n := planScaleDown(s, l); n != s.oldReplicas {
				steps = append(steps, fmt.Sprintf("down to %d", n))
				s.oldReplicas = n
			}
		}
		// The bounds hold after every step: never more pods than allowed, never fewer available.
		minAvailable, maxTotal := l.bounds(s)
		if total := s.oldReplicas + s.newReplicas; total > maxTotal {
			steps = append(steps, fmt.Sprintf("VIOLATION: %d pods > %d", total, maxTotal))
		}
		if avail := s.oldReplicas + min(s.newAvailable, s.newReplicas); avail < minAvailable && s.desired > 0 {
			steps = append(steps, fmt.Sprintf("VIOLATION: %d available < %d", avail, minAvailable))
		}
	}
	return steps
}

func allReady(_ int, n int32) int32 { return n }
func noneReady(int, int32) int32    { return 0 }

func TestPlanRollingUpdate(t *testing.T) {
	kubectl := rollLimits{maxSurge: 1, maxUnavailable: 0}
	tests := []struct {
		name   string
		start  rollState
		limits rollLimits
		ready  func(pass int, newReplicas int32) int32
		want   []string
	}{
		{
			name:   "chapter 9.2: 3 replicas, surge 1, unavailable 0, pods ready at once: one pod at a time",
			start:  rollState{desired: 3, oldReplicas: 3},
			limits: kubectl, ready: allReady,
			want: []string{"up to 1", "down to 2", "up to 2", "down to 1", "up to 3", "down to 0"},
		},
		{
			name:   "a new pod that never becomes ready stops the update after the first surge pod",
			start:  rollState{desired: 3, oldReplicas: 3},
			limits: kubectl, ready: noneReady,
			want: []string{"up to 1"},
		},
		{
			name:   "a slow new pod holds the old ones until it is ready",
			start:  rollState{desired: 2, oldReplicas: 2},
			limits: kubectl,
			ready: func(pass int, n int32) int32 {
				if pass < 3 {
					return n - 1
				}
				return n
			},
			want: []string{"up to 1", "down to 1", "up to 2", "down to 0"},
		},
		{
			name:   "surge 0, unavailable 1: an old pod goes first",
			start:  rollState{desired: 3, oldReplicas: 3},
			limits: rollLimits{maxSurge: 0, maxUnavailable: 1}, ready: allReady,
			want: []string{"down to 2", "up to 1", "down to 1", "up to 2", "down to 0", "up to 3"},
		},
		{
			name:   "surge 2 of 4: two new pods at a time",
			start:  rollState{desired: 4, oldReplicas: 4},
			limits: rollLimits{maxSurge: 2, maxUnavailable: 0}, ready: allReady,
			want: []string{"up to 2", "down to 2", "up to 4", "down to 0"},
		},
		{
			name:   "resumed with the old controller already gone: scale up the rest at once",
			start:  rollState{desired: 3, oldReplicas: 0, newReplicas: 1},
			limits: kubectl, ready: allReady,
			want: []string{"up to 3"},
		},
		{
			name:   "resumed half way: carries on from where it stopped",
			start:  rollState{desired: 3, oldReplicas: 2, newReplicas: 1},
			limits: kubectl, ready: allReady,
			want: []string{"up to 2", "down to 1", "up to 3", "down to 0"},
		},
		{
			name:   "one replica: the new pod starts before the old one goes",
			start:  rollState{desired: 1, oldReplicas: 1},
			limits: kubectl, ready: allReady,
			want: []string{"up to 1", "down to 0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := simulateRollingUpdate(tt.start, tt.limits, tt.ready, 20)
			if !slices.Equal(got, tt.want) {
				t.Errorf("steps\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestRollBounds(t *testing.T) {
	tests := []struct {
		name                   string
		limits                 rollLimits
		desired                int32
		wantMinAvail, wantMaxT int32
	}{
		{name: "kubectl's limits for 3: keep 3 pods available, don't exceed 4 pods", limits: rollLimits{1, 0}, desired: 3, wantMinAvail: 3, wantMaxT: 4},
		{name: "unavailable larger than desired keeps none", limits: rollLimits{1, 5}, desired: 3, wantMinAvail: 0, wantMaxT: 4},
		{name: "rolling to nothing keeps none", limits: rollLimits{1, 0}, desired: 0, wantMinAvail: 0, wantMaxT: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			minAvail, maxTotal := tt.limits.bounds(rollState{desired: tt.desired})
			if minAvail != tt.wantMinAvail || maxTotal != tt.wantMaxT {
				t.Errorf("bounds = (%d, %d), want (%d, %d)", minAvail, maxTotal, tt.wantMinAvail, tt.wantMaxT)
			}
		})
	}
}

func kubiaV1RC() *corev1.ReplicationController {
	three := int32(3)
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{
			Name: "kubia-v1", Namespace: "default", UID: "u1", ResourceVersion: "7", Generation: 2,
			Labels:      map[string]string{"app": "kubia"},
			Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: "{}", "team": "a"},
		},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &three,
			Selector: map[string]string{"app": "kubia"},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nodejs", Image: "luksa/kubia:v1"}}},
			},
		},
		Status: corev1.ReplicationControllerStatus{Replicas: 3, ObservedGeneration: 2},
	}
}

func TestNextController(t *testing.T) {
	old := kubiaV1RC()
	rc, err := nextController(old, "kubia-v2", "luksa/kubia:v2", "", "", "deployment")
	if err != nil {
		t.Fatal(err)
	}
	hash := rc.Spec.Selector["deployment"]
	switch {
	case rc.Name != "kubia-v2" || rc.Namespace != "default":
		t.Errorf("name %s/%s", rc.Namespace, rc.Name)
	case rc.UID != "" || rc.ResourceVersion != "" || rc.Generation != 0 || rc.Status.Replicas != 0:
		t.Errorf("server-set fields copied: %+v %+v", rc.ObjectMeta, rc.Status)
	case rc.Spec.Template.Spec.Containers[0].Image != "luksa/kubia:v2":
		t.Errorf("image %s", rc.Spec.Template.Spec.Containers[0].Image)
	case len(hash) != 32 || rc.Spec.Template.Labels["deployment"] != hash || rc.Spec.Selector["app"] != "kubia":
		t.Errorf("selector %v template labels %v", rc.Spec.Selector, rc.Spec.Template.Labels)
	case rc.Annotations[corev1.LastAppliedConfigAnnotation] != "" || rc.Annotations["team"] != "a":
		t.Errorf("annotations %v", rc.Annotations)
	case *rc.Spec.Replicas != 3:
		t.Errorf("replicas %d", *rc.Spec.Replicas)
	}
	if old.Spec.Template.Spec.Containers[0].Image != "luksa/kubia:v1" || old.Spec.Selector["deployment"] != "" {
		t.Errorf("old controller modified: %+v", old.Spec)
	}
	if !selectorsDiffer(map[string]string{"app": "kubia", "deployment": "x-orig"}, rc.Spec.Selector) {
		t.Errorf("selectors should differ")
	}
	if again, _ := nextController(old, "kubia-v2", "luksa/kubia:v2", "", "", "deployment"); again.Spec.Selector["deployment"] != hash {
		t.Errorf("hash not stable: %s then %s", hash, again.Spec.Selector["deployment"])
	}

	errs := []struct {
		name                   string
		mutate                 func(*corev1.ReplicationController)
		image, container, want string
	}{
		{name: "same image without a pull policy", image: "luksa/kubia:v1", want: "already runs luksa/kubia:v1"},
		{name: "nothing to roll", image: "x", want: "has no replicas",
			mutate: func(rc *corev1.ReplicationController) { rc.Spec.Replicas = new(int32) }},
		{name: "unknown container", image: "x", container: "nope", want: "container nope not found"},
		{name: "two containers need --container", image: "x", want: "say which one with --container",
			mutate: func(rc *corev1.ReplicationController) {
				rc.Spec.Template.Spec.Containers = append(rc.Spec.Template.Spec.Containers, corev1.Container{Name: "side", Image: "y"})
			}},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			rc := kubiaV1RC()
			if tt.mutate != nil {
				tt.mutate(rc)
			}
			_, err := nextController(rc, "kubia-v2", tt.image, tt.container, "", "deployment")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestRollingUpdateHelpSaysWhyItIsObsolete(t *testing.T) {
	long := NewRollingUpdateCommand().Long
	for _, want := range []string{"modifies objects you wrote", "client does all the work", "connection lost", "imperative", "Deployment"} {
		if !strings.Contains(long, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
