package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
)

// preferredKubectl is the bundled kubectl 1.32 when present, else the built-in one.
func preferredKubectl(t *testing.T) kubectl {
	ks := kubectls(t)
	for _, k := range ks {
		if k.name == "1.32" {
			return k
		}
	}
	return ks[len(ks)-1]
}

// TestRolloutCommands follows chapter 9.3 with kubectl against fake nodes: create --record,
// rollout status, set image, history with CHANGE-CAUSE, undo, undo --to-revision, pause/resume.
func TestRolloutCommands(t *testing.T) {
	s := startServer(t, "--runtime", "fake")
	k := preferredKubectl(t)
	file := writeFile(t, "kubia-deployment-v1.yaml", kubiaV1)
	s.must(k, "create", "-f", file, "--record")
	contains(t, "rollout status", s.must(k, "rollout", "status", "deployment", "kubia"), `deployment "kubia" successfully rolled out`)
	contains(t, "pods carry the hash", s.must(k, "get", "po", "--show-labels"), "pod-template-hash=")

	s.must(k, "set", "image", "deployment", "kubia", "nodejs=luksa/kubia:v2")
	contains(t, "rollout status v2", s.must(k, "rollout", "status", "deployment", "kubia"), "successfully rolled out")
	hist := s.must(k, "rollout", "history", "deployment", "kubia")
	contains(t, "history", hist, "REVISION", "CHANGE-CAUSE", "1 ", "2 ", " create --filename=", "--record=true")

	contains(t, "undo", s.must(k, "rollout", "undo", "deployment", "kubia"), "rolled back")
	s.must(k, "rollout", "status", "deployment", "kubia")
	if img := s.must(k, "get", "deploy", "kubia", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "luksa/kubia:v1" {
		t.Fatalf("after undo image = %s", img)
	}
	hist = s.must(k, "rollout", "history", "deployment", "kubia")
	if strings.Contains(hist, "\n1 ") || !strings.Contains(hist, "\n3 ") {
		t.Fatalf("after undo revision 1 should have become 3:\n%s", hist)
	}
	s.must(k, "rollout", "undo", "deployment", "kubia", "--to-revision=2")
	s.must(k, "rollout", "status", "deployment", "kubia")
	if img := s.must(k, "get", "deploy", "kubia", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "luksa/kubia:v2" {
		t.Fatalf("after undo --to-revision=2 image = %s", img)
	}

	// pause before several changes: they roll out once, on resume
	s.must(k, "rollout", "pause", "deployment", "kubia")
	s.must(k, "set", "image", "deployment", "kubia", "nodejs=luksa/kubia:v4")
	s.must(k, "set", "env", "deployment", "kubia", "GREETING=hi")
	rs := s.must(k, "get", "rs", "-o", "name")
	s.must(k, "rollout", "resume", "deployment", "kubia")
	s.must(k, "rollout", "status", "deployment", "kubia")
	after := s.must(k, "get", "rs", "-o", "name")
	if n := len(strings.Fields(after)) - len(strings.Fields(rs)); n != 1 {
		t.Fatalf("paused changes made %d new ReplicaSets, want 1:\nbefore %s\nafter %s", n, rs, after)
	}

	// deleting every ReplicaSet leaves no history to undo to
	s.must(k, "patch", "deployment", "kubia", "-p", `{"spec":{"revisionHistoryLimit":0}}`)
	eventually(t, 20*time.Second, "old ReplicaSets cleaned up", func() bool {
		return len(strings.Fields(s.must(k, "get", "rs", "-o", "name"))) == 1
	})
	_, errOut, err := s.run(k, "", "rollout", "undo", "deployment", "kubia")
	if err == nil || !strings.Contains(errOut, `no rollout history found for deployment "kubia"`) {
		t.Fatalf("undo with no history: err=%v stderr=%s", err, errOut)
	}
}

// TestProgressDeadlineExceeded: pods that never become available stall the rollout until
// progressDeadlineSeconds, then rollout status fails as the chapter shows.
func TestProgressDeadlineExceeded(t *testing.T) {
	s := startServer(t, "--runtime", "fake")
	k := preferredKubectl(t)
	s.must(k, "apply", "-f", writeFile(t, "d.yaml", kubiaV1))
	s.must(k, "rollout", "status", "deployment", "kubia")
	s.must(k, "patch", "deployment", "kubia", "-p", `{"spec":{"progressDeadlineSeconds":3,"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}},"template":{"spec":{"nodeSelector":{"nowhere":"true"}}}}}`)
	out, errOut, err := s.run(k, "", "rollout", "status", "deployment", "kubia", "--timeout=60s")
	if err == nil || !strings.Contains(errOut, `deployment "kubia" exceeded its progress deadline`) {
		t.Fatalf("rollout status: err=%v\nstdout=%s\nstderr=%s", err, out, errOut)
	}
	contains(t, "describe", s.must(k, "describe", "deploy", "kubia"), "ProgressDeadlineExceeded")
}

// TestRollingUpdateBounds watches every pod event during rollouts and checks the surge and
// unavailability bounds are never crossed.
func TestRollingUpdateBounds(t *testing.T) {
	cases := []struct {
		replicas          int32
		surge, unavailabe intstr.IntOrString
	}{
		{3, intstr.FromString("25%"), intstr.FromString("25%")},
		{10, intstr.FromString("25%"), intstr.FromString("25%")},
		{10, intstr.FromInt32(1), intstr.FromInt32(0)},
		{10, intstr.FromInt32(0), intstr.FromInt32(1)},
		{10, intstr.FromInt32(2), intstr.FromInt32(1)},
		{100, intstr.FromString("25%"), intstr.FromString("25%")},
	}
	s := startServer(t, "--runtime", "fake")
	c := s.client()
	for i, tc := range cases {
		name := fmt.Sprintf("r%d-s%s-u%s", tc.replicas, tc.surge.String(), tc.unavailabe.String())
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			ns := fmt.Sprintf("bounds-%d", i)
			if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: "kubia"},
				Spec: appsv1.DeploymentSpec{
					Replicas: &tc.replicas,
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "kubia"}},
					Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
						RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &tc.surge, MaxUnavailable: &tc.unavailabe}},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
						Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nodejs", Image: "luksa/kubia:v1"}}},
					},
				},
			}
			d, err := c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			waitRolledOut(t, ctx, s, ns, "kubia")
			surge, _ := intstr.GetScaledValueFromIntOrPercent(&tc.surge, int(tc.replicas), true)
			unav, _ := intstr.GetScaledValueFromIntOrPercent(&tc.unavailabe, int(tc.replicas), false)
			if surge == 0 && unav == 0 {
				unav = 1
			}
			maxPods, minReady := int(tc.replicas)+surge, int(tc.replicas)-unav

			// track every pod: exists (not terminating) and ready
			pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			w, err := c.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: pods.ResourceVersion})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			state := map[string]bool{} // name -> ready; present = counted
			for _, p := range pods.Items {
				state[p.Name] = rolloutPodReady(&p)
			}
			var mu sync.Mutex
			var worst struct{ maxPods, minReady int }
			worst.minReady = 1 << 30
			observe := func() {
				ready := 0
				for _, r := range state {
					if r {
						ready++
					}
				}
				if len(state) > worst.maxPods {
					worst.maxPods = len(state)
				}
				if ready < worst.minReady {
					worst.minReady = ready
				}
			}
			observe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				for ev := range w.ResultChan() {
					p, ok := ev.Object.(*corev1.Pod)
					if !ok {
						continue
					}
					mu.Lock()
					if ev.Type == watch.Deleted || p.DeletionTimestamp != nil {
						delete(state, p.Name)
					} else {
						state[p.Name] = rolloutPodReady(p)
					}
					observe()
					mu.Unlock()
				}
			}()
			patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"nodejs","image":"luksa/kubia:v2"}]}}}}`)
			if _, err := c.AppsV1().Deployments(ns).Patch(ctx, d.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			waitRolledOut(t, ctx, s, ns, "kubia")
			w.Stop()
			<-done
			mu.Lock()
			defer mu.Unlock()
			t.Logf("replicas %d maxSurge %s maxUnavailable %s: at most %d pods (bound %d), at least %d ready (bound %d)",
				tc.replicas, tc.surge.String(), tc.unavailabe.String(), worst.maxPods, maxPods, worst.minReady, minReady)
			if worst.maxPods > maxPods {
				t.Errorf("%d pods existed at once, bound is %d", worst.maxPods, maxPods)
			}
			if worst.minReady < minReady {
				t.Errorf("only %d pods were ready at one point, bound is %d", worst.minReady, minReady)
			}
		})
	}
}

func rolloutPodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitRolledOut waits until the deployment's status says its rollout is complete, as kubectl
// rollout status decides it.
func waitRolledOut(t *testing.T, ctx context.Context, s *server, ns, name string) {
	t.Helper()
	c := s.client()
	eventually(t, 90*time.Second, "rollout of "+ns+"/"+name, func() bool {
		d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		want := *d.Spec.Replicas
		st := d.Status
		return d.Generation <= st.ObservedGeneration && st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want
	})
}
