package deployment

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/rollout"
)

// canaryKubia is chapter 9's kubia with maxSurge 1, maxUnavailable 0 and
// the given skiff.dev/ annotations.
func canaryKubia(replicas int32, annotations ...string) *appsv1.Deployment {
	d := kubia(replicas)
	one, zero := intstr.FromInt32(1), intstr.FromInt32(0)
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &one, MaxUnavailable: &zero}
	for i := 0; i+1 < len(annotations); i += 2 {
		d.Annotations[annotations[i]] = annotations[i+1]
	}
	return d
}

// playUntil plays the kubelet, making every pod ready, until the Deployment
// satisfies done.
func (e *env) playUntil(t *testing.T, what string, done func(*appsv1.Deployment) bool) *appsv1.Deployment {
	t.Helper()
	return e.playPodsUntil(t, what, "", done)
}

// playPodsUntil is playUntil making only the pods of the revision with hash
// ready (all, for "").
func (e *env) playPodsUntil(t *testing.T, what, hash string, done func(*appsv1.Deployment) bool) *appsv1.Deployment {
	t.Helper()
	for {
		var notReady []string
		var d *appsv1.Deployment
		e.Eventually(t, what, func() (bool, string) {
			notReady = notReady[:0]
			for _, p := range e.pods(t) {
				if p.DeletionTimestamp == nil && !isPodReady(p) && (hash == "" || p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == hash) {
					notReady = append(notReady, p.Name)
				}
			}
			d = e.deployment(t)
			return done(d) || len(notReady) > 0, fmt.Sprintf("generation %d annotations %v spec.paused %v status %+v", d.Generation, d.Annotations, d.Spec.Paused, d.Status)
		})
		if done(d) {
			return d
		}
		e.markReady(t, notReady...)
	}
}

// heldAt reports whether the controller holds the Deployment at step of
// steps for the revision with hash.
func heldAt(step, steps int, hash string) func(*appsv1.Deployment) bool {
	want := rollout.Reached{Step: step, Of: steps, Hash: hash}.String()
	return func(d *appsv1.Deployment) bool {
		c := getCondition(d.Status, CanaryCondition)
		return d.Spec.Paused && d.Annotations[rollout.CanaryStepReachedAnnotation] == want &&
			c != nil && c.Reason == reasonCanaryStepReached && d.Status.ObservedGeneration == d.Generation
	}
}

// sizesOf returns every ReplicaSet's spec.replicas by image tag.
func (e *env) sizesOf(t *testing.T) map[string]int32 {
	out := map[string]int32{}
	for _, rs := range e.replicaSets(t) {
		img := rs.Spec.Template.Spec.Containers[0].Image
		out[img[strings.LastIndex(img, ":")+1:]] = *rs.Spec.Replicas
	}
	return out
}

func (e *env) wantSizes(t *testing.T, want map[string]int32) {
	t.Helper()
	e.Eventually(t, fmt.Sprintf("ReplicaSet sizes %v", want), func() (bool, string) {
		got := e.sizesOf(t)
		for k, v := range want {
			if got[k] != v {
				return false, fmt.Sprint(got)
			}
		}
		return true, ""
	})
}

func resume(d *appsv1.Deployment) { d.Spec.Paused = false }
func pause(d *appsv1.Deployment)  { d.Spec.Paused = true }

func eventsWith(events []string, reason string) []string {
	var out []string
	for _, ev := range events {
		if strings.Contains(ev, " "+reason+" ") {
			out = append(out, ev)
		}
	}
	return out
}

// The chapter's flow with skiff.dev/canary-steps "1,50%": set image stops
// at 1 new pod, kubectl rollout resume goes to 50%, a second resume
// completes.
func TestCanaryStepsPauseAndResume(t *testing.T) {
	e := newEnv(t, canaryKubia(4, rollout.CanaryStepsAnnotation, "1,50%"))
	e.rollOut(t)
	if got := e.deployment(t).Annotations[rollout.StableHashAnnotation]; got != hashOf("luksa/kubia:v1") {
		t.Errorf("stable hash after the first rollout = %q", got)
	}
	e.drainEvents()
	v2 := hashOf("luksa/kubia:v2")
	newName := "kubia-" + v2

	e.arm()
	e.edit(t, setImage("luksa/kubia:v2"))
	d := e.playUntil(t, "held at step 1/2", heldAt(1, 2, v2))
	e.wantSizes(t, map[string]int32{"v1": 3, "v2": 1})
	e.waitFor(t, "status at step 1: 1 of 4 updated, 4 available", func(d *appsv1.Deployment) bool {
		s := d.Status
		return s.UpdatedReplicas == 1 && s.Replicas == 4 && s.AvailableReplicas == 4
	})
	c := getCondition(d.Status, CanaryCondition)
	wantMsg := fmt.Sprintf("Reached canary step 1/2: 1 of 4 pods run ReplicaSet %q; paused, resume with kubectl rollout resume", newName)
	if c.Status != v1.ConditionTrue || c.Message != wantMsg {
		t.Errorf("canary condition = %+v, want True %q", c, wantMsg)
	}
	if p := getCondition(e.waitFor(t, "Progressing paused", func(d *appsv1.Deployment) bool {
		p := getCondition(d.Status, appsv1.DeploymentProgressing)
		return p != nil && p.Reason == reasonPaused
	}).Status, appsv1.DeploymentProgressing); p.Status != v1.ConditionUnknown {
		t.Errorf("Progressing = %+v", p)
	}
	if ev := eventsWith(e.drainEvents(), reasonCanaryStepReached); !slices.Equal(ev, []string{"Normal CanaryStepReached " + wantMsg}) {
		t.Errorf("events = %q", ev)
	}

	e.edit(t, resume)
	e.playUntil(t, "held at step 2/2", heldAt(2, 2, v2))
	e.wantSizes(t, map[string]int32{"v1": 2, "v2": 2})
	e.drainEvents()

	e.edit(t, resume)
	e.rollOut(t)
	e.wantSizes(t, map[string]int32{"v1": 0, "v2": 4})
	d = e.waitFor(t, "the canary complete", func(d *appsv1.Deployment) bool {
		c := getCondition(d.Status, CanaryCondition)
		return c != nil && c.Reason == reasonCanaryComplete && d.Annotations[rollout.StableHashAnnotation] == v2
	})
	if d.Spec.Paused {
		t.Error("paused after the last step")
	}
	if maxPods, minReady, _ := e.bounds(); maxPods > 5 || minReady < 4 {
		t.Errorf("%d pods at most, %d ready at least: want within replicas+maxSurge 5 and replicas-maxUnavailable 4", maxPods, minReady)
	}
	var scaledUp []string
	for _, ev := range e.drainEvents() {
		if strings.Contains(ev, "Scaled up replica set "+newName) {
			scaledUp = append(scaledUp, ev)
		}
	}
	want := []string{
		"Normal ScalingReplicaSet Scaled up replica set " + newName + " from 2 to 3",
		"Normal ScalingReplicaSet Scaled up replica set " + newName + " from 3 to 4",
	}
	if !slices.Equal(scaledUp, want) {
		t.Errorf("scale-ups after step 2 = %q, want %q", scaledUp, want)
	}
}

// With maxSurge 3 upstream would start 3 new pods at once; a step of 1 pod
// holds the new ReplicaSet at exactly 1, and the old one at the other 9
// (maxUnavailable 2 would let it drop to 8).
func TestCanarySurgeDoesNotOvershootStep(t *testing.T) {
	d := kubia(10)
	three, two := intstr.FromInt32(3), intstr.FromInt32(2)
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &three, MaxUnavailable: &two}
	d.Annotations[rollout.CanaryStepsAnnotation] = "1,50%"
	e := newEnv(t, d)
	e.rollOut(t)
	e.edit(t, setImage("luksa/kubia:v2"))
	e.playUntil(t, "held at step 1/2", heldAt(1, 2, hashOf("luksa/kubia:v2")))
	e.wantSizes(t, map[string]int32{"v1": 9, "v2": 1})
	for _, ev := range e.drainEvents() {
		if strings.Contains(ev, "Scaled up replica set kubia-"+hashOf("luksa/kubia:v2")) && !strings.HasSuffix(ev, "from 0 to 1") {
			t.Errorf("new ReplicaSet overshot the step: %s", ev)
		}
	}

	// Step 2 is 5 of 10: the surge (3) brings it there, not past it.
	e.edit(t, resume)
	e.playUntil(t, "held at step 2/2", heldAt(2, 2, hashOf("luksa/kubia:v2")))
	e.wantSizes(t, map[string]int32{"v1": 5, "v2": 5})
}

// The step a revision reached is recorded with its hash; a new template
// clears it and its rollout starts from step 1.
func TestCanaryStepClearedWhenTemplateChanges(t *testing.T) {
	e := newEnv(t, canaryKubia(4, rollout.CanaryStepsAnnotation, "1,50%"))
	e.rollOut(t)
	e.edit(t, setImage("luksa/kubia:v2"))
	e.playUntil(t, "v2 held at step 1/2", heldAt(1, 2, hashOf("luksa/kubia:v2")))

	// kubectl set image while held, then rollout resume: v3 starts over.
	e.edit(t, setImage("luksa/kubia:v3"))
	e.edit(t, resume)
	e.waitFor(t, "v2's step cleared as v3 starts", func(d *appsv1.Deployment) bool {
		_, ok := d.Annotations[rollout.CanaryStepReachedAnnotation]
		return !ok && d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas >= 1
	})
	e.playUntil(t, "v3 held at step 1/2", heldAt(1, 2, hashOf("luksa/kubia:v3")))
	e.wantSizes(t, map[string]int32{"v3": 1})
	if s := e.sizesOf(t); s["v1"]+s["v2"] != 3 {
		t.Errorf("old ReplicaSets run %v, want 3 pods between them", s)
	}
}

// Updates that each replace the last before it reached a step: only the
// latest counts, from step 1, and the unready revisions in between go.
func TestCanaryUpdatesThatReachNoStep(t *testing.T) {
	e := newEnv(t, canaryKubia(4, rollout.CanaryStepsAnnotation, "50%"))
	e.rollOut(t)
	for _, image := range []string{"luksa/kubia:v2", "luksa/kubia:v3"} {
		e.edit(t, setImage(image))
		e.waitFor(t, image+" started", func(d *appsv1.Deployment) bool {
			return d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == 1
		})
		if _, ok := e.deployment(t).Annotations[rollout.CanaryStepReachedAnnotation]; ok {
			t.Fatalf("a step recorded for %s, whose pods never got ready", image)
		}
	}
	e.edit(t, setImage("luksa/kubia:v4"))
	v4 := hashOf("luksa/kubia:v4")
	e.playPodsUntil(t, "v4 held at step 1/1", v4, heldAt(1, 1, v4))
	e.wantSizes(t, map[string]int32{"v1": 2, "v2": 0, "v3": 0, "v4": 2})
	e.edit(t, resume)
	e.rollOut(t)
	e.wantSizes(t, map[string]int32{"v1": 0, "v4": 4})
}

// kubectl scale while held: the step's share is recomputed for the new
// spec.replicas (25% of 4 is 1 pod, of 8 is 2), without surge.
func TestCanaryScaleWhileHeld(t *testing.T) {
	e := newEnv(t, canaryKubia(4, rollout.CanaryStepsAnnotation, "25%"))
	e.rollOut(t)
	e.edit(t, setImage("luksa/kubia:v2"))
	e.playUntil(t, "held at step 1/1", heldAt(1, 1, hashOf("luksa/kubia:v2")))
	e.wantSizes(t, map[string]int32{"v1": 3, "v2": 1})

	e.edit(t, func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](8) })
	e.wantSizes(t, map[string]int32{"v1": 6, "v2": 2})
	d := e.playUntil(t, "all 8 pods running", func(d *appsv1.Deployment) bool {
		return d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == 8
	})
	if !d.Spec.Paused || d.Status.Replicas != 8 {
		t.Errorf("paused %v, %d pods: want still held at 8", d.Spec.Paused, d.Status.Replicas)
	}

	e.edit(t, func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](3) })
	e.wantSizes(t, map[string]int32{"v1": 2, "v2": 1})

	e.edit(t, resume)
	e.rollOut(t)
	e.wantSizes(t, map[string]int32{"v1": 0, "v2": 3})
}

// kubectl rollout pause by hand is the user's: resuming it continues to the
// next step, never past it.
func TestCanaryManualPauseDoesNotSkipStep(t *testing.T) {
	e := newEnv(t, canaryKubia(4, rollout.CanaryStepsAnnotation, "1,50%", rollout.StepPauseAnnotation, "1m"))
	e.rollOut(t)
	v2 := hashOf("luksa/kubia:v2")

	// Paused by hand before step 1 was reached.
	e.edit(t, setImage("luksa/kubia:v2"))
	e.waitFor(t, "the first new pod", func(d *appsv1.Deployment) bool { return d.Status.UpdatedReplicas == 1 })
	e.edit(t, pause)
	e.edit(t, resume)
	e.playUntil(t, "held at step 1/2", heldAt(1, 2, v2))

	// Resumed, then paused by hand before step 2.
	e.edit(t, resume)
	e.waitFor(t, "promoted", func(d *appsv1.Deployment) bool {
		c := getCondition(d.Status, CanaryCondition)
		return c != nil && c.Reason == reasonCanaryStepPromoted
	})
	e.edit(t, pause)
	// step-pause does not lift the user's pause.
	e.Step(2 * time.Minute)
	e.waitFor(t, "the user's pause kept", func(d *appsv1.Deployment) bool {
		return d.Spec.Paused && d.Status.ObservedGeneration == d.Generation
	})
	if d := e.deployment(t); !d.Spec.Paused || d.Annotations[rollout.CanaryStepReachedAnnotation] != (rollout.Reached{Step: 1, Of: 2, Hash: v2}).String() {
		t.Fatalf("paused %v, step %q", d.Spec.Paused, d.Annotations[rollout.CanaryStepReachedAnnotation])
	}
	e.edit(t, resume)
	e.playUntil(t, "held at step 2/2, not skipped", heldAt(2, 2, v2))
	e.wantSizes(t, map[string]int32{"v1": 2, "v2": 2})
}

// skiff.dev/step-pause: the controller lifts its own pause after that long
// on its clock, if the new pods stay healthy.
func TestCanaryStepPausePromotesItself(t *testing.T) {
	e := newEnv(t, canaryKubia(4, rollout.CanaryStepsAnnotation, "1,50%", rollout.StepPauseAnnotation, "2m", rollout.MaxRestartsAnnotation, "0"))
	e.rollOut(t)
	v2 := hashOf("luksa/kubia:v2")
	e.edit(t, setImage("luksa/kubia:v2"))
	d := e.playUntil(t, "held at step 1/2", heldAt(1, 2, v2))
	reached := getCondition(d.Status, CanaryCondition).LastUpdateTime.Time
	e.Eventually(t, "a promotion check 2m after the step", func() (bool, string) {
		return e.Clock.HasTimerAt(reached.Add(2 * time.Minute)), fmt.Sprint(e.Clock.PendingTimers())
	})
	e.Step(time.Minute)
	if d := e.deployment(t); !d.Spec.Paused {
		t.Fatal("promoted before step-pause passed")
	}
	e.Step(time.Minute)
	e.playUntil(t, "promoted by itself to step 2/2", heldAt(2, 2, v2))
	if ev := eventsWith(e.drainEvents(), reasonCanaryStepPromoted); len(ev) != 1 ||
		ev[0] != "Normal CanaryStepPromoted Promoted from canary step 1/2 after 2m0s with healthy pods" {
		t.Errorf("promotion events = %q", ev)
	}

	// A new pod restarts (max-restarts 0, no auto-rollback): the rollout
	// holds at step 2 rather than promoting.
	newPod := ""
	for _, p := range e.pods(t) {
		if p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == v2 {
			newPod = p.Name
		}
	}
	e.setPodStatus(t, newPod, func(p *v1.Pod) {
		p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "nodejs", RestartCount: 1, Ready: true}}
	})
	e.Eventually(t, "the restart in the controller's cache", func() (bool, string) {
		for _, p := range e.pods(t) {
			if p.Name == newPod {
				return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount == 1, ""
			}
		}
		return false, ""
	})
	e.Step(3 * time.Minute)
	d = e.waitFor(t, "held for the restart", func(d *appsv1.Deployment) bool {
		c := getCondition(d.Status, CanaryCondition)
		return c != nil && c.Reason == reasonCanaryHeld
	})
	if want := fmt.Sprintf("Holding at canary step 2/2: pod %s restarted 1 times (max-restarts 0)", newPod); getCondition(d.Status, CanaryCondition).Message != want || !d.Spec.Paused {
		t.Errorf("canary condition %+v, paused %v; want %q", getCondition(d.Status, CanaryCondition), d.Spec.Paused, want)
	}
}

// setPodStatus changes a pod's status as a kubelet would.
func (e *env) setPodStatus(t *testing.T, name string, change func(*v1.Pod)) {
	t.Helper()
	for {
		p, err := e.Client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		change(p)
		_, err = e.Client.CoreV1().Pods("default").UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return
	}
}
