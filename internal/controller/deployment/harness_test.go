package deployment

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/controller/controllertest"
	"github.com/skiff-dev/skiff/internal/controller/replicaset"
	"github.com/skiff-dev/skiff/internal/registry"
)

// env runs the Deployment and ReplicaSet controllers over an API server.
// The test plays the kubelet: pods become ready only when it says so.
type env struct {
	*controllertest.Cluster
	events *record.FakeRecorder // the Deployment controller's

	mu      sync.Mutex // guards the bounds below
	armed   bool
	maxPods int // most pods seen at any pod event since arm
	minRdy  int // fewest ready pods seen at any pod event since arm
	mixed   bool
}

func newEnv(t *testing.T, objs ...runtime.Object) *env {
	t.Helper()
	cl := controllertest.NewCluster(t, objs...)
	e := &env{Cluster: cl, events: record.NewFakeRecorder(10000)}
	log := testLogger()
	dc := New(cl.Client, cl.Factory, log, WithClock(cl.Clock), WithEventRecorder(e.events))
	rsc := replicaset.New(cl.Client, cl.Factory, log, replicaset.WithClock(cl.Clock), replicaset.WithEventRecorder(record.NewFakeRecorder(10000)))
	if _, err := cl.Factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { e.sample() },
		UpdateFunc: func(any, any) { e.sample() },
		DeleteFunc: func(any) { e.sample() },
	}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cl.Start(t, ctx)
	var wg sync.WaitGroup
	for _, run := range []func(context.Context, int) error{dc.Run, rsc.Run} {
		wg.Go(func() {
			if err := run(ctx, 2); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return e
}

// arm starts recording the pod count bounds from now on.
func (e *env) arm() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.armed, e.maxPods, e.minRdy, e.mixed = true, 0, 1<<30, false
}

func (e *env) bounds() (maxPods, minReady int, mixed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.maxPods, e.minRdy, e.mixed
}

// sample records, at every pod event, how many pods exist and are ready,
// and whether pods of two templates run at once.
func (e *env) sample() {
	pods, _ := e.Factory.Core().V1().Pods().Lister().List(labels.Everything())
	total, ready := 0, 0
	hashes := map[string]bool{}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		total++
		if isPodReady(p) {
			ready++
		}
		hashes[p.Labels[appsv1.DefaultDeploymentUniqueLabelKey]] = true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.armed {
		return
	}
	e.maxPods = max(e.maxPods, total)
	e.minRdy = min(e.minRdy, ready)
	e.mixed = e.mixed || len(hashes) > 1
}

func (e *env) pods(t *testing.T) []*v1.Pod {
	t.Helper()
	pods, err := e.Factory.Core().V1().Pods().Lister().List(labels.Everything())
	if err != nil {
		t.Fatal(err)
	}
	return pods
}

func (e *env) replicaSets(t *testing.T) []*appsv1.ReplicaSet {
	t.Helper()
	rss, err := e.Factory.Apps().V1().ReplicaSets().Lister().List(labels.Everything())
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(rss, func(a, b *appsv1.ReplicaSet) int { return strings.Compare(a.Name, b.Name) })
	return rss
}

func (e *env) replicaSet(t *testing.T, name string) *appsv1.ReplicaSet {
	t.Helper()
	rs, err := e.Factory.Apps().V1().ReplicaSets().Lister().ReplicaSets("default").Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func (e *env) deployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	d, err := e.Factory.Apps().V1().Deployments().Lister().Deployments("default").Get("kubia")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// edit changes the Deployment as a user would, retrying on conflicts, and
// waits until the informers have seen the change.
func (e *env) edit(t *testing.T, change func(*appsv1.Deployment)) {
	t.Helper()
	for {
		d, err := e.Client.AppsV1().Deployments("default").Get(context.Background(), "kubia", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		change(d)
		updated, err := e.Client.AppsV1().Deployments("default").Update(context.Background(), d, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		e.waitFor(t, "the edit to reach the cache", func(d *appsv1.Deployment) bool { return d.Generation >= updated.Generation })
		return
	}
}

func setImage(image string) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image }
}

// markReady makes pods Ready now, as a kubelet would; pods gone meanwhile
// are skipped.
func (e *env) markReady(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		for {
			p, err := e.Client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			p.Status.Phase = v1.PodRunning
			p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(e.Clock.Now())}}
			_, err = e.Client.CoreV1().Pods("default").UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				continue
			}
			if err != nil && !apierrors.IsNotFound(err) {
				t.Fatal(err)
			}
			break
		}
	}
}

// rolledOut is kubectl rollout status's test for success.
func rolledOut(d *appsv1.Deployment) (bool, string) {
	s := d.Status
	why := fmt.Sprintf("generation %d, status %+v", d.Generation, s)
	if d.Generation > s.ObservedGeneration {
		return false, why
	}
	if c := getCondition(s, appsv1.DeploymentProgressing); c != nil && c.Reason == reasonTimedOut {
		return false, why
	}
	want := ptr.Deref(d.Spec.Replicas, 0)
	return s.UpdatedReplicas >= want && s.Replicas <= s.UpdatedReplicas && s.AvailableReplicas >= s.UpdatedReplicas, why
}

// rollOut plays the kubelet until the rollout completes: whenever pods are
// not ready, it makes them ready.
func (e *env) rollOut(t *testing.T) {
	t.Helper()
	for {
		var notReady []string
		done := false
		e.Eventually(t, "rollout progress", func() (bool, string) {
			notReady = notReady[:0]
			for _, p := range e.pods(t) {
				if p.DeletionTimestamp == nil && !isPodReady(p) {
					notReady = append(notReady, p.Name)
				}
			}
			var why string
			done, why = rolledOut(e.deployment(t))
			return done || len(notReady) > 0, why
		})
		if done {
			return
		}
		e.markReady(t, notReady...)
	}
}

// waitFor waits until the Deployment satisfies ok.
func (e *env) waitFor(t *testing.T, what string, ok func(*appsv1.Deployment) bool) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	e.Eventually(t, what, func() (bool, string) {
		d = e.deployment(t)
		return ok(d), fmt.Sprintf("generation %d annotations %v status %+v", d.Generation, d.Annotations, d.Status)
	})
	return d
}

func (e *env) drainEvents() []string {
	var out []string
	for {
		select {
		case ev := <-e.events.Events:
			out = append(out, ev)
		default:
			return out
		}
	}
}

// kubia is the Deployment of chapter 9: 3 replicas of luksa/kubia:v1 with
// the API server's defaults for what it leaves out.
func kubia(replicas int32) *appsv1.Deployment {
	d := deploy(replicas, "25%", "25%")
	d.Generation = 1
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "kubectl create --filename=kubia-deployment-v1.yaml --record=true"}
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](600)
	d.Spec.RevisionHistoryLimit = ptr.To[int32](10)
	return d
}

// hashOf is the pod-template-hash of the Deployment's template with image.
func hashOf(image string) string {
	tpl := storedTemplate(image)
	return podTemplateHash(&tpl, nil)
}

// storedTemplate is the Deployment's template with image as the API server
// stores it: with its defaults, which are part of what the hash covers.
func storedTemplate(image string) v1.PodTemplateSpec {
	d := kubia(1)
	d.Spec.Template = template(image)
	for _, r := range registry.All() {
		if r.GVR == appsv1.SchemeGroupVersion.WithResource("deployments") {
			r.Default(d)
		}
	}
	return d.Spec.Template
}

func testLogger() *slog.Logger {
	if os.Getenv("CONTROLLER_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
