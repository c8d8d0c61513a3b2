package deployment

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestCreateDeployment(t *testing.T) {
	e := newEnv(t, kubia(3))
	name := "kubia-" + hashOf("luksa/kubia:v1")
	e.rollOut(t)

	rs := e.replicaSet(t, name)
	hash := hashOf("luksa/kubia:v1")
	if got := rs.Labels; got["app"] != "kubia" || got[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
		t.Errorf("ReplicaSet labels = %v", got)
	}
	if got := rs.Spec.Selector.MatchLabels; got["app"] != "kubia" || got[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
		t.Errorf("ReplicaSet selector = %v", got)
	}
	if got := rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; got != hash {
		t.Errorf("template pod-template-hash = %q", got)
	}
	wantAnnotations := map[string]string{
		RevisionAnnotation:           "1",
		DesiredReplicasAnnotation:    "3",
		MaxReplicasAnnotation:        "4",
		"kubernetes.io/change-cause": "kubectl create --filename=kubia-deployment-v1.yaml --record=true",
	}
	if !maps.Equal(rs.Annotations, wantAnnotations) {
		t.Errorf("ReplicaSet annotations = %v, want %v", rs.Annotations, wantAnnotations)
	}
	if ref := metav1.GetControllerOf(rs); ref == nil || ref.Kind != "Deployment" || ref.UID != e.deployment(t).UID || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("ReplicaSet controller = %+v", ref)
	}
	if *rs.Spec.Replicas != 3 {
		t.Errorf("ReplicaSet replicas = %d", *rs.Spec.Replicas)
	}
	for _, p := range e.pods(t) {
		if p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
			t.Errorf("pod %s labels %v lack the hash", p.Name, p.Labels)
		}
	}

	d := e.deployment(t)
	if d.Annotations[RevisionAnnotation] != "1" {
		t.Errorf("Deployment revision = %q", d.Annotations[RevisionAnnotation])
	}
	s := d.Status
	if s.Replicas != 3 || s.UpdatedReplicas != 3 || s.ReadyReplicas != 3 || s.AvailableReplicas != 3 || s.UnavailableReplicas != 0 || s.ObservedGeneration != 1 {
		t.Errorf("status = %+v", s)
	}
	if c := getCondition(s, appsv1.DeploymentAvailable); c == nil || c.Status != v1.ConditionTrue || c.Reason != "MinimumReplicasAvailable" || c.Message != "Deployment has minimum availability." {
		t.Errorf("Available = %+v", c)
	}
	if c := getCondition(s, appsv1.DeploymentProgressing); c == nil || c.Status != v1.ConditionTrue || c.Reason != "NewReplicaSetAvailable" ||
		c.Message != fmt.Sprintf("ReplicaSet %q has successfully progressed.", name) {
		t.Errorf("Progressing = %+v", c)
	}
	if events := e.drainEvents(); !slices.Equal(events, []string{"Normal ScalingReplicaSet Scaled up replica set " + name + " from 0 to 3"}) {
		t.Errorf("events = %q", events)
	}
}

func TestRollingUpdateStaysWithinBounds(t *testing.T) {
	tests := []struct {
		name           string
		replicas       int32
		surge, unavail string
		maxPods        int // replicas + maxSurge
		minReady       int // replicas - maxUnavailable
	}{
		{name: "3 replicas, 25%/25%", replicas: 3, surge: "25%", unavail: "25%", maxPods: 4, minReady: 3},
		{name: "10 replicas, 25%/25%", replicas: 10, surge: "25%", unavail: "25%", maxPods: 13, minReady: 8},
		{name: "10 replicas, 1/0", replicas: 10, surge: "1", unavail: "0", maxPods: 11, minReady: 10},
		{name: "10 replicas, 0/1", replicas: 10, surge: "0", unavail: "1", maxPods: 10, minReady: 9},
		{name: "10 replicas, 2/1", replicas: 10, surge: "2", unavail: "1", maxPods: 12, minReady: 9},
		{name: "100 replicas, 25%/25%", replicas: 100, surge: "25%", unavail: "25%", maxPods: 125, minReady: 75},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := kubia(tt.replicas)
			s, u := intstr.Parse(tt.surge), intstr.Parse(tt.unavail)
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &s, MaxUnavailable: &u}
			e := newEnv(t, d)
			e.rollOut(t)

			e.arm()
			e.edit(t, setImage("luksa/kubia:v2"))
			e.rollOut(t)

			maxPods, minReady, _ := e.bounds()
			if maxPods > tt.maxPods {
				t.Errorf("%d pods at once, more than replicas+maxSurge = %d", maxPods, tt.maxPods)
			}
			if minReady < tt.minReady {
				t.Errorf("%d pods ready at one point, fewer than replicas-maxUnavailable = %d", minReady, tt.minReady)
			}
			oldRS, newRS := e.replicaSet(t, "kubia-"+hashOf("luksa/kubia:v1")), e.replicaSet(t, "kubia-"+hashOf("luksa/kubia:v2"))
			if *oldRS.Spec.Replicas != 0 || *newRS.Spec.Replicas != tt.replicas || newRS.Annotations[RevisionAnnotation] != "2" {
				t.Errorf("old %d, new %d (revision %s)", *oldRS.Spec.Replicas, *newRS.Spec.Replicas, newRS.Annotations[RevisionAnnotation])
			}
			if got := e.deployment(t).Annotations[RevisionAnnotation]; got != "2" {
				t.Errorf("Deployment revision = %q, want 2", got)
			}
		})
	}
}

// The rollout of chapter 9.3.2, step by step, as kubectl describe shows it.
func TestRollingUpdateSteps(t *testing.T) {
	e := newEnv(t, kubia(3))
	e.rollOut(t)
	e.drainEvents()

	e.edit(t, setImage("luksa/kubia:v2"))
	e.rollOut(t)
	oldName, newName := "kubia-"+hashOf("luksa/kubia:v1"), "kubia-"+hashOf("luksa/kubia:v2")
	want := []string{
		"Normal ScalingReplicaSet Scaled up replica set " + newName + " from 0 to 1",
		"Normal ScalingReplicaSet Scaled down replica set " + oldName + " from 3 to 2",
		"Normal ScalingReplicaSet Scaled up replica set " + newName + " from 1 to 2",
		"Normal ScalingReplicaSet Scaled down replica set " + oldName + " from 2 to 1",
		"Normal ScalingReplicaSet Scaled up replica set " + newName + " from 2 to 3",
		"Normal ScalingReplicaSet Scaled down replica set " + oldName + " from 1 to 0",
	}
	if got := e.drainEvents(); !slices.Equal(got, want) {
		t.Errorf("events:\n%q\nwant\n%q", got, want)
	}
}

func TestRollbackReusesOldReplicaSet(t *testing.T) {
	e := newEnv(t, kubia(3))
	e.rollOut(t)
	e.edit(t, func(d *appsv1.Deployment) {
		setImage("luksa/kubia:v2")(d)
		d.Annotations["kubernetes.io/change-cause"] = "kubectl set image deployment kubia nodejs=luksa/kubia:v2"
	})
	e.rollOut(t)

	// kubectl rollout undo: the template and annotations of revision 1.
	v1RS := e.replicaSet(t, "kubia-"+hashOf("luksa/kubia:v1"))
	e.edit(t, func(d *appsv1.Deployment) {
		d.Spec.Template = *v1RS.Spec.Template.DeepCopy()
		delete(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		d.Annotations["kubernetes.io/change-cause"] = v1RS.Annotations["kubernetes.io/change-cause"]
	})
	e.rollOut(t)

	if n := len(e.replicaSets(t)); n != 2 {
		t.Fatalf("%d ReplicaSets, want the 2 templates' only", n)
	}
	v1RS = e.replicaSet(t, "kubia-"+hashOf("luksa/kubia:v1"))
	if got := v1RS.Annotations[RevisionAnnotation]; got != "3" {
		t.Errorf("reused ReplicaSet revision = %q, want 3", got)
	}
	if got := v1RS.Annotations[RevisionHistoryAnnotation]; got != "1" {
		t.Errorf("revision-history = %q, want 1", got)
	}
	if *v1RS.Spec.Replicas != 3 || *e.replicaSet(t, "kubia-"+hashOf("luksa/kubia:v2")).Spec.Replicas != 0 {
		t.Error("the rollback did not move the replicas back")
	}
	if got := e.deployment(t).Annotations[RevisionAnnotation]; got != "3" {
		t.Errorf("Deployment revision = %q, want 3", got)
	}
}

func TestPausedDeploymentScalesButDoesNotRoll(t *testing.T) {
	e := newEnv(t, kubia(3))
	e.rollOut(t)
	oldName, newName := "kubia-"+hashOf("luksa/kubia:v1"), "kubia-"+hashOf("luksa/kubia:v2")

	e.edit(t, func(d *appsv1.Deployment) { d.Spec.Paused = true })
	e.edit(t, setImage("luksa/kubia:v2"))
	e.edit(t, func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](5) })
	d := e.waitFor(t, "the paused scale-up", func(d *appsv1.Deployment) bool {
		return d.Status.ObservedGeneration == d.Generation && d.Status.Replicas == 5
	})
	if c := getCondition(d.Status, appsv1.DeploymentProgressing); c == nil || c.Reason != "DeploymentPaused" || c.Status != v1.ConditionUnknown || c.Message != "Deployment is paused" {
		t.Errorf("Progressing = %+v", c)
	}
	if rss := e.replicaSets(t); len(rss) != 1 || rss[0].Name != oldName || *rss[0].Spec.Replicas != 5 {
		t.Fatalf("paused Deployment rolled or did not scale: %v", rss)
	}

	// Resuming rolls the template out.
	e.edit(t, func(d *appsv1.Deployment) { d.Spec.Paused = false })
	e.rollOut(t)
	if rs := e.replicaSet(t, newName); *rs.Spec.Replicas != 5 {
		t.Errorf("new ReplicaSet has %d replicas, want 5", *rs.Spec.Replicas)
	}
}

func TestProgressDeadlineExceeded(t *testing.T) {
	// No deadline for the first rollout, so no progress check of it is left
	// pending when the second starts.
	d := kubia(1)
	d.Spec.ProgressDeadlineSeconds = nil
	e := newEnv(t, d)
	e.rollOut(t)

	e.Step(10 * time.Second)
	e.edit(t, func(d *appsv1.Deployment) {
		setImage("luksa/kubia:v3-broken")(d)
		d.Spec.ProgressDeadlineSeconds = ptr.To[int32](60)
	})
	// The new pod never becomes ready. With nothing else happening, the
	// controller must have asked to be woken when the deadline passes:
	// lastUpdateTime + 60s, plus a second of slack.
	var check time.Time
	e.Eventually(t, "a stalled rollout with a deadline check scheduled", func() (bool, string) {
		d := e.deployment(t)
		c := getCondition(d.Status, appsv1.DeploymentProgressing)
		if c == nil || d.Status.UpdatedReplicas != 1 {
			return false, fmt.Sprintf("status %+v", d.Status)
		}
		check = c.LastUpdateTime.Add(61 * time.Second)
		return e.Clock.HasTimerAt(check), fmt.Sprintf("Progressing %+v, timers %v", c, e.Clock.PendingTimers())
	})
	if c := getCondition(e.deployment(t).Status, appsv1.DeploymentProgressing); c.Reason == "ProgressDeadlineExceeded" {
		t.Fatal("timed out before the deadline")
	}

	e.Step(check.Sub(e.Clock.Now()))
	got := e.waitFor(t, "ProgressDeadlineExceeded", func(d *appsv1.Deployment) bool {
		c := getCondition(d.Status, appsv1.DeploymentProgressing)
		return c != nil && c.Reason == "ProgressDeadlineExceeded"
	})
	c := getCondition(got.Status, appsv1.DeploymentProgressing)
	want := fmt.Sprintf("ReplicaSet %q has timed out progressing.", "kubia-"+hashOf("luksa/kubia:v3-broken"))
	if c.Status != v1.ConditionFalse || c.Message != want {
		t.Errorf("Progressing = %+v, want False with %q", c, want)
	}
}

func TestRecreateNeverMixesVersions(t *testing.T) {
	d := kubia(3)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	e := newEnv(t, d)
	e.rollOut(t)
	e.drainEvents()

	e.arm()
	e.edit(t, setImage("luksa/kubia:v2"))
	e.rollOut(t)
	if _, _, mixed := e.bounds(); mixed {
		t.Error("old and new pods ran at the same time")
	}
	oldName, newName := "kubia-"+hashOf("luksa/kubia:v1"), "kubia-"+hashOf("luksa/kubia:v2")
	want := []string{
		"Normal ScalingReplicaSet Scaled down replica set " + oldName + " from 3 to 0",
		"Normal ScalingReplicaSet Scaled up replica set " + newName + " from 0 to 3",
	}
	if got := e.drainEvents(); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestTemplateChangeMidRolloutRollsOver(t *testing.T) {
	e := newEnv(t, kubia(3))
	e.rollOut(t)
	v2Name, v3Name := "kubia-"+hashOf("luksa/kubia:v2"), "kubia-"+hashOf("luksa/kubia:v3")

	e.edit(t, setImage("luksa/kubia:v2"))
	e.waitFor(t, "the v2 pod", func(d *appsv1.Deployment) bool { return d.Status.UpdatedReplicas == 1 })
	// v2 never gets ready; the user moves on to v3 at once.
	e.edit(t, setImage("luksa/kubia:v3"))
	e.Eventually(t, "v3 started and the unready v2 pod cleaned up", func() (bool, string) {
		rss := map[string]int32{}
		for _, rs := range e.replicaSets(t) {
			rss[rs.Name] = *rs.Spec.Replicas
		}
		v3, ok := rss[v3Name]
		return ok && v3 > 0 && rss[v2Name] == 0, fmt.Sprint(rss)
	})
	e.rollOut(t)
	if got := e.replicaSet(t, v3Name).Annotations[RevisionAnnotation]; got != "3" {
		t.Errorf("v3 revision = %q, want 3", got)
	}
}

func TestRevisionHistoryLimit(t *testing.T) {
	d := kubia(2)
	d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	e := newEnv(t, d)
	e.rollOut(t)
	for _, image := range []string{"luksa/kubia:v2", "luksa/kubia:v3"} {
		e.edit(t, setImage(image))
		e.rollOut(t)
	}
	e.Eventually(t, "the oldest revision deleted", func() (bool, string) {
		var names []string
		for _, rs := range e.replicaSets(t) {
			names = append(names, rs.Name+"@"+rs.Annotations[RevisionAnnotation])
		}
		want := []string{"kubia-" + hashOf("luksa/kubia:v2") + "@2", "kubia-" + hashOf("luksa/kubia:v3") + "@3"}
		slices.Sort(want)
		return slices.Equal(names, want), fmt.Sprint(names)
	})
}

func TestProportionalScalingMidRollout(t *testing.T) {
	d := kubia(10)
	three, two := intstr.FromInt32(3), intstr.FromInt32(2)
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &three, MaxUnavailable: &two}
	e := newEnv(t, d)
	e.rollOut(t)
	oldName, newName := "kubia-"+hashOf("luksa/kubia:v1"), "kubia-"+hashOf("luksa/kubia:v2")

	// The new pods never become ready: the rollout stops at old 8, new 5.
	e.edit(t, setImage("luksa/kubia:v2"))
	sizes := func(old, new int32) func() (bool, string) {
		return func() (bool, string) {
			o, n := e.replicaSet(t, oldName), e.replicaSets(t)
			var nw int32 = -1
			for _, rs := range n {
				if rs.Name == newName {
					nw = *rs.Spec.Replicas
				}
			}
			return *o.Spec.Replicas == old && nw == new, fmt.Sprintf("old %d new %d", *o.Spec.Replicas, nw)
		}
	}
	e.Eventually(t, "the stalled rollout", sizes(8, 5))

	e.edit(t, func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](20) })
	e.Eventually(t, "proportional scale-up to 23 pods", sizes(14, 9))
}

func TestAdoptsOrphanReplicaSet(t *testing.T) {
	hash := hashOf("luksa/kubia:v1")
	orphan := rs("kubia-"+hash, 3, 0, time.Hour)
	orphan.Spec.Template = template("luksa/kubia:v1")
	orphan.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	orphan.Labels = map[string]string{"app": "kubia", appsv1.DefaultDeploymentUniqueLabelKey: hash}
	orphan.Spec.Selector = &metav1.LabelSelector{MatchLabels: orphan.Labels}
	orphan.Status = appsv1.ReplicaSetStatus{}

	// And one of its ReplicaSets someone relabeled out of its selector.
	strayed := rs("kubia-debug", 0, 0, 2*time.Hour)
	strayed.Labels = map[string]string{"app": "kubia-debug"}
	strayed.Spec.Selector = &metav1.LabelSelector{MatchLabels: strayed.Labels}
	strayed.Spec.Template.Labels = strayed.Labels
	strayed.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(kubia(3), controllerKind)}

	e := newEnv(t, kubia(3), orphan, strayed)
	e.rollOut(t)
	if ref := metav1.GetControllerOf(e.replicaSet(t, orphan.Name)); ref == nil || ref.UID != e.deployment(t).UID || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("orphan not adopted: %+v", e.replicaSet(t, orphan.Name).OwnerReferences)
	}
	e.Eventually(t, "the relabeled ReplicaSet released", func() (bool, string) {
		refs := e.replicaSet(t, "kubia-debug").OwnerReferences
		return len(refs) == 0, fmt.Sprint(refs)
	})
	if n := len(e.replicaSets(t)); n != 2 {
		t.Errorf("%d ReplicaSets, want no new one beside the adopted one", n)
	}
}

func TestHashCollision(t *testing.T) {
	// A ReplicaSet of another template already has the name the Deployment's
	// template hashes to.
	squatter := rs("kubia-"+hashOf("luksa/kubia:v1"), 0, 0, time.Hour)
	squatter.Labels = map[string]string{"app": "something-else"}
	squatter.Spec.Selector = &metav1.LabelSelector{MatchLabels: squatter.Labels}
	squatter.Spec.Template.Labels = squatter.Labels

	e := newEnv(t, kubia(1), squatter)
	e.rollOut(t)
	d := e.deployment(t)
	if ptr.Deref(d.Status.CollisionCount, 0) != 1 {
		t.Fatalf("collisionCount = %v, want 1", d.Status.CollisionCount)
	}
	tpl := storedTemplate("luksa/kubia:v1")
	want := "kubia-" + podTemplateHash(&tpl, ptr.To[int32](1))
	if rs := e.replicaSet(t, want); *rs.Spec.Replicas != 1 {
		t.Errorf("%s has %d replicas", want, *rs.Spec.Replicas)
	}
}
