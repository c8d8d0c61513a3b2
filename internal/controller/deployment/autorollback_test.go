package deployment

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/rollout"
)

// rolledBackTo waits until the Deployment is back on image with the
// rollback recorded, and checks what kubectl and the user see.
func (e *env) checkRolledBack(t *testing.T, bad, good string, signal string) {
	t.Helper()
	badHash := hashOf(bad)
	d := e.waitFor(t, "rolled back to "+good, func(d *appsv1.Deployment) bool {
		// The condition is written after the event is recorded.
		return d.Spec.Template.Spec.Containers[0].Image == good && d.Annotations[rollout.RolledBackFromAnnotation] == badHash &&
			getCondition(d.Status, AutoRollbackCondition) != nil
	})
	if d.Spec.Paused {
		t.Error("paused after the rollback")
	}
	if got := d.Annotations["kubernetes.io/change-cause"]; got != "kubectl create --filename=kubia-deployment-v1.yaml --record=true" {
		t.Errorf("change-cause = %q, want revision 1's back", got)
	}
	badName, goodName := "kubia-"+badHash, "kubia-"+hashOf(good)
	all := e.drainEvents()
	events := eventsWith(all, reasonRolledBack)
	if len(events) != 1 || !strings.HasPrefix(events[0], fmt.Sprintf("Warning RolledBack Rolled back from revision 2 (ReplicaSet %q) to revision 1 (ReplicaSet %q): ", badName, goodName)) ||
		!strings.Contains(events[0], signal) {
		t.Errorf("RolledBack events = %q, want one naming %q; all %q", events, signal, all)
	}
	e.rollOut(t)
	d = e.deployment(t)
	if c := getCondition(d.Status, AutoRollbackCondition); c == nil || c.Status != v1.ConditionTrue || c.Reason != "RolledBack" || !strings.Contains(c.Message, signal) {
		t.Errorf("%s condition = %+v", AutoRollbackCondition, c)
	}
	goodRS := e.replicaSet(t, goodName)
	if goodRS.Annotations[RevisionAnnotation] != "3" || goodRS.Annotations[RevisionHistoryAnnotation] != "1" || d.Annotations[RevisionAnnotation] != "3" {
		t.Errorf("revisions: rolled-back-to ReplicaSet %s (history %s), Deployment %s; want 3 (history 1), as kubectl rollout undo",
			goodRS.Annotations[RevisionAnnotation], goodRS.Annotations[RevisionHistoryAnnotation], d.Annotations[RevisionAnnotation])
	}
	if n := *e.replicaSet(t, badName).Spec.Replicas; n != 0 {
		t.Errorf("bad ReplicaSet still wants %d pods", n)
	}
	// Not retried: the bad template stays out.
	e.Step(time.Hour)
	if img := e.deployment(t).Spec.Template.Spec.Containers[0].Image; img != good {
		t.Errorf("image %s after an hour, want %s", img, good)
	}
}

func autoRollbackKubia(replicas int32, annotations ...string) *appsv1.Deployment {
	return canaryKubia(replicas, append([]string{rollout.AutoRollbackAnnotation, "true"}, annotations...)...)
}

func TestAutoRollbackOnProgressDeadline(t *testing.T) {
	d := autoRollbackKubia(3)
	d.Spec.ProgressDeadlineSeconds = nil
	e := newEnv(t, d)
	e.rollOut(t)
	e.drainEvents()

	e.Step(10 * time.Second)
	e.edit(t, func(d *appsv1.Deployment) {
		setImage("luksa/kubia:v3")(d)
		d.Spec.ProgressDeadlineSeconds = ptr.To[int32](60)
		d.Annotations["kubernetes.io/change-cause"] = "kubectl apply --filename=kubia-deployment-v3-with-readinesscheck.yaml"
	})
	var check time.Time
	e.Eventually(t, "a stalled rollout with a deadline check", func() (bool, string) {
		d := e.deployment(t)
		c := getCondition(d.Status, appsv1.DeploymentProgressing)
		if c == nil || d.Status.UpdatedReplicas != 1 {
			return false, fmt.Sprintf("status %+v", d.Status)
		}
		check = c.LastUpdateTime.Add(61 * time.Second)
		return e.Clock.HasTimerAt(check), fmt.Sprint(e.Clock.PendingTimers())
	})
	e.Step(check.Sub(e.Clock.Now()))
	d = e.waitFor(t, "rolled back", func(d *appsv1.Deployment) bool {
		return d.Annotations[rollout.RolledBackFromAnnotation] != "" && d.Status.ObservedGeneration == d.Generation
	})
	// What kubectl rollout status reads: ProgressDeadlineExceeded for the
	// generation that rolled back.
	if c := getCondition(d.Status, appsv1.DeploymentProgressing); d.Status.ObservedGeneration == d.Generation && c != nil && c.Reason == reasonTimedOut {
		if !strings.Contains(c.Message, "was rolled back") {
			t.Errorf("Progressing message %q does not say it was rolled back", c.Message)
		}
	}
	e.checkRolledBack(t, "luksa/kubia:v3", "luksa/kubia:v1", "made no progress for 60s (progressDeadlineSeconds)")
}

// The chapter's luksa/kubia:v3 behind a readiness probe: its pod never gets
// Ready, and max-unready rolls it back well before the deadline.
func TestAutoRollbackOnNotReady(t *testing.T) {
	e := newEnv(t, autoRollbackKubia(3, rollout.MaxUnreadyAnnotation, "2m"))
	e.rollOut(t)
	e.drainEvents()
	e.edit(t, setImage("luksa/kubia:v3"))
	var pod string
	e.Eventually(t, "the v3 pod", func() (bool, string) {
		for _, p := range e.pods(t) {
			if p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == hashOf("luksa/kubia:v3") {
				pod = p.Name
			}
		}
		return pod != "", ""
	})
	since := e.Clock.Now()
	e.setPodStatus(t, pod, func(p *v1.Pod) {
		p.Status.Phase = v1.PodRunning
		p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionFalse, LastTransitionTime: metav1.NewTime(since)}}
	})
	e.Eventually(t, "a check when max-unready passes", func() (bool, string) {
		return e.Clock.HasTimerAt(since.Add(2*time.Minute + time.Second)), fmt.Sprint(e.Clock.PendingTimers())
	})
	e.Step(time.Minute)
	if d := e.deployment(t); d.Spec.Template.Spec.Containers[0].Image != "luksa/kubia:v3" {
		t.Fatal("rolled back before max-unready passed")
	}
	e.Step(time.Minute + time.Second)
	e.checkRolledBack(t, "luksa/kubia:v3", "luksa/kubia:v1", fmt.Sprintf("pod %s not Ready for 2m1s (max-unready 2m0s)", pod))
}

func TestAutoRollbackOnRestarts(t *testing.T) {
	tests := []struct {
		name   string
		status v1.ContainerStatus
		signal string
	}{
		{name: "more restarts than max-restarts", status: v1.ContainerStatus{Name: "nodejs", RestartCount: 4}, signal: "restarted 4 times (max-restarts 3)"},
		{name: "CrashLoopBackOff", status: v1.ContainerStatus{Name: "nodejs", RestartCount: 1,
			State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}, signal: `container "nodejs" of pod`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, autoRollbackKubia(3, rollout.MaxRestartsAnnotation, "3"))
			e.rollOut(t)
			e.drainEvents()
			e.edit(t, setImage("luksa/kubia:v2"))
			var pod string
			e.Eventually(t, "the v2 pod", func() (bool, string) {
				for _, p := range e.pods(t) {
					if p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == hashOf("luksa/kubia:v2") {
						pod = p.Name
					}
				}
				return pod != "", ""
			})
			// Three restarts are within max-restarts.
			e.setPodStatus(t, pod, func(p *v1.Pod) {
				p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "nodejs", RestartCount: 3}}
			})
			e.waitFor(t, "the restarts seen", func(d *appsv1.Deployment) bool { return d.Status.UpdatedReplicas == 1 })
			if d := e.deployment(t); d.Annotations[rollout.RolledBackFromAnnotation] != "" {
				t.Fatal("rolled back at max-restarts")
			}
			e.setPodStatus(t, pod, func(p *v1.Pod) { p.Status.ContainerStatuses = []v1.ContainerStatus{tt.status} })
			e.checkRolledBack(t, "luksa/kubia:v2", "luksa/kubia:v1", tt.signal)
		})
	}
}

// A revision that completed is not rolled back when its pods restart
// later: auto-rollback is about rollouts.
func TestAutoRollbackLeavesCompletedRevision(t *testing.T) {
	e := newEnv(t, autoRollbackKubia(2, rollout.MaxRestartsAnnotation, "0"))
	e.rollOut(t)
	e.edit(t, setImage("luksa/kubia:v2"))
	e.rollOut(t)
	e.waitFor(t, "v2 stable", func(d *appsv1.Deployment) bool {
		return d.Annotations[rollout.StableHashAnnotation] == hashOf("luksa/kubia:v2")
	})
	for _, p := range e.pods(t) {
		e.setPodStatus(t, p.Name, func(p *v1.Pod) {
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "nodejs", RestartCount: 5, Ready: true}}
		})
	}
	e.Eventually(t, "the restarts in the controller's cache", func() (bool, string) {
		for _, p := range e.pods(t) {
			if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].RestartCount != 5 {
				return false, p.Name
			}
		}
		return true, ""
	})
	e.Step(time.Minute)
	e.waitFor(t, "the restarts seen", func(d *appsv1.Deployment) bool { return d.Status.ObservedGeneration == d.Generation })
	if d := e.deployment(t); d.Spec.Template.Spec.Containers[0].Image != "luksa/kubia:v2" {
		t.Errorf("a completed revision was rolled back to %s", d.Spec.Template.Spec.Containers[0].Image)
	}
	if ev := eventsWith(e.drainEvents(), reasonRolledBack); len(ev) != 0 {
		t.Errorf("events %q", ev)
	}
}

// A canary held at a step whose pods go bad is rolled back, pause and all.
func TestAutoRollbackDuringCanaryHold(t *testing.T) {
	e := newEnv(t, autoRollbackKubia(4, rollout.CanaryStepsAnnotation, "1,50%", rollout.MaxRestartsAnnotation, "2"))
	e.rollOut(t)
	e.drainEvents()
	e.edit(t, setImage("luksa/kubia:v2"))
	e.playUntil(t, "held at step 1/2", heldAt(1, 2, hashOf("luksa/kubia:v2")))
	for _, p := range e.pods(t) {
		if p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == hashOf("luksa/kubia:v2") {
			e.setPodStatus(t, p.Name, func(p *v1.Pod) {
				p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "nodejs", RestartCount: 3, Ready: true}}
			})
		}
	}
	e.checkRolledBack(t, "luksa/kubia:v2", "luksa/kubia:v1", "restarted 3 times (max-restarts 2)")
	d := e.deployment(t)
	if _, ok := d.Annotations[rollout.CanaryStepReachedAnnotation]; ok {
		t.Error("the rolled-back revision's step is still recorded")
	}
	if c := getCondition(d.Status, CanaryCondition); c == nil || c.Reason != reasonRolledBack || c.Status != v1.ConditionFalse {
		t.Errorf("canary condition = %+v", c)
	}
}

// Recreate rollouts are rolled back the same way: the old pods come back
// once the bad ones are gone.
func TestAutoRollbackRecreate(t *testing.T) {
	d := recreate(2)
	d.Generation = 1
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "kubectl create --filename=kubia-deployment-v1.yaml --record=true",
		rollout.AutoRollbackAnnotation: "true", rollout.MaxRestartsAnnotation: "1"}
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](600)
	d.Spec.RevisionHistoryLimit = ptr.To[int32](10)
	e := newEnv(t, d)
	e.rollOut(t)
	e.drainEvents()
	e.edit(t, setImage("luksa/kubia:v2"))
	var pod string
	e.Eventually(t, "a v2 pod", func() (bool, string) {
		for _, p := range e.pods(t) {
			if p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == hashOf("luksa/kubia:v2") {
				pod = p.Name
			}
		}
		return pod != "", fmt.Sprint(e.sizesOf(t))
	})
	e.setPodStatus(t, pod, func(p *v1.Pod) { p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "nodejs", RestartCount: 2}} })
	e.checkRolledBack(t, "luksa/kubia:v2", "luksa/kubia:v1", "restarted 2 times (max-restarts 1)")
}
