package garbagecollector

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"

	"github.com/skiff-dev/skiff/internal/controller/controllertest"
)

var (
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	replicasets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	pods        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	configmaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	// replicationcontrollers are resolvable but not watched: only live reads see them.
	replicationcontrollers = schema.GroupVersionResource{Version: "v1", Resource: "replicationcontrollers"}
)

var kinds = map[schema.GroupVersionResource]string{
	deployments: "Deployment", replicasets: "ReplicaSet", pods: "Pod", configmaps: "ConfigMap", replicationcontrollers: "ReplicationController",
}

// cluster is an API server, with a metadata client of the test's own whose reads are not
// among the requests recorded.
type cluster struct {
	*controllertest.Cluster
	direct metadata.Interface
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{Cluster: controllertest.NewCluster(t)}
	var err error
	if c.direct, err = metadata.NewForConfig(c.Config()); err != nil {
		t.Fatal(err)
	}
	return c
}

// object is a valid object of gvr's kind, named name in namespace ns.
func object(gvr schema.GroupVersionResource, name string) runtime.Object {
	labels := map[string]string{"app": name}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
	om := metav1.ObjectMeta{Namespace: "ns", Name: name}
	switch gvr {
	case deployments:
		return &appsv1.Deployment{ObjectMeta: om, Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}}
	case replicasets:
		return &appsv1.ReplicaSet{ObjectMeta: om, Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}}
	case replicationcontrollers:
		return &corev1.ReplicationController{ObjectMeta: om, Spec: corev1.ReplicationControllerSpec{Selector: labels, Template: &template}}
	case pods:
		return &corev1.Pod{ObjectMeta: om, Spec: template.Spec}
	case configmaps:
		return &corev1.ConfigMap{ObjectMeta: om}
	}
	panic("no object for " + gvr.String())
}

func (c *cluster) add(t *testing.T, gvr schema.GroupVersionResource, name string, owners ...metav1.OwnerReference) *metav1.PartialObjectMetadata {
	t.Helper()
	obj := object(gvr, name)
	m, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	m.SetOwnerReferences(owners)
	c.Create(t, obj)
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: gvr.GroupVersion().String(), Kind: kinds[gvr]},
		ObjectMeta: *obj.(metav1.ObjectMetaAccessor).GetObjectMeta().(*metav1.ObjectMeta),
	}
}

func owner(o *metav1.PartialObjectMetadata, block bool) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, UID: o.UID, Controller: &yes, BlockOwnerDeletion: &block}
}

func (c *cluster) delete(t *testing.T, gvr schema.GroupVersionResource, name string, policy metav1.DeletionPropagation) {
	t.Helper()
	if err := c.Metadata.Resource(gvr).Namespace("ns").Delete(context.Background(), name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
		t.Fatalf("delete %s %s: %v", gvr.Resource, name, err)
	}
}

func (c *cluster) get(gvr schema.GroupVersionResource, name string) (*metav1.PartialObjectMetadata, bool) {
	obj, err := c.direct.Resource(gvr).Namespace("ns").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil, false
	}
	obj.APIVersion, obj.Kind = gvr.GroupVersion().String(), kinds[gvr]
	return obj, true
}

func (c *cluster) run(t *testing.T) {
	t.Helper()
	mapper := meta.NewDefaultRESTMapper(nil)
	for gvr, kind := range kinds {
		mapper.Add(gvr.GroupVersion().WithKind(kind), meta.RESTScopeNamespace)
	}
	factory := metadatainformer.NewSharedInformerFactory(c.Metadata, 0)
	watched := []schema.GroupVersionResource{deployments, replicasets, pods, configmaps}
	gc, err := New(c.Metadata, factory, mapper, watched, slog.New(slog.DiscardHandler), Options{RecheckInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, gvr := range watched {
		c.Watch(t, factory.ForResource(gvr).Informer())
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- gc.Run(ctx, 2) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
}

func (c *cluster) gone(gvr schema.GroupVersionResource, names ...string) func() (bool, string) {
	return func() (bool, string) {
		for _, n := range names {
			if _, ok := c.get(gvr, n); ok {
				return false, fmt.Sprintf("%s %s still exists", gvr.Resource, n)
			}
		}
		return true, ""
	}
}

// tree builds deployment web → replicaset web-1 → pods web-1-a, web-1-b.
func (c *cluster) tree(t *testing.T) {
	d := c.add(t, deployments, "web")
	rs := c.add(t, replicasets, "web-1", owner(d, true))
	c.add(t, pods, "web-1-a", owner(rs, true))
	c.add(t, pods, "web-1-b", owner(rs, true))
}

func TestBackgroundDeletionCascades(t *testing.T) {
	c := newCluster(t)
	c.tree(t)
	cm := c.add(t, configmaps, "keeper")
	rs, _ := c.get(replicasets, "web-1")
	second := owner(cm, false)
	second.Controller = nil // an object has one controller at most
	c.add(t, pods, "shared", owner(rs, true), second)
	c.add(t, pods, "standalone")
	c.run(t)

	c.delete(t, deployments, "web", metav1.DeletePropagationBackground)
	c.Eventually(t, "the replicaset collected", c.gone(replicasets, "web-1"))
	c.Eventually(t, "its pods collected", c.gone(pods, "web-1-a", "web-1-b"))

	c.Eventually(t, "the shared pod released", func() (bool, string) {
		p, ok := c.get(pods, "shared")
		if !ok {
			return false, "pod with a living second owner was deleted"
		}
		return len(p.OwnerReferences) == 1 && p.OwnerReferences[0].UID == cm.UID,
			fmt.Sprintf("shared pod owners %v", p.OwnerReferences)
	})
	if _, ok := c.get(pods, "standalone"); !ok {
		t.Error("pod without owners was deleted")
	}
}

func TestForegroundDeletionRemovesDependentsFirst(t *testing.T) {
	c := newCluster(t)
	c.tree(t)
	c.run(t)

	c.delete(t, deployments, "web", metav1.DeletePropagationForeground)
	d, ok := c.get(deployments, "web")
	if !ok || d.DeletionTimestamp == nil {
		t.Fatal("foreground delete did not leave the deployment in deletion")
	}
	c.Eventually(t, "the deployment gone", c.gone(deployments, "web"))
	c.Eventually(t, "the replicaset gone", c.gone(replicasets, "web-1"))
	c.Eventually(t, "the pods gone", c.gone(pods, "web-1-a", "web-1-b"))

	// Order of writes: both pods deleted, then the replicaset released, then
	// the deployment.
	var order []string
	for _, r := range c.Requests() {
		switch r.Verb {
		case "delete":
			if r.Resource == pods.Resource {
				order = append(order, "delete "+r.Name)
			}
		case "patch":
			order = append(order, "patch "+r.Name)
		}
	}
	// Retries may repeat a write (a late delete of a pod already gone is
	// harmless); what matters is that no finalizer is removed before the
	// first delete of each pod below it.
	a, b, rs := slices.Index(order, "delete web-1-a"), slices.Index(order, "delete web-1-b"), slices.Index(order, "patch web-1")
	early := a < 0 || b < 0 || rs < max(a, b)
	for i, w := range order {
		early = early || (w == "patch web" && i < rs)
	}
	if early {
		t.Fatalf("writes in order %q: a finalizer was removed before the dependents were deleted", order)
	}

	// The replicaset, having dependents, was itself deleted in the foreground.
	for _, r := range c.Requests() {
		if r.Verb == "delete" && r.Resource == replicasets.Resource {
			opts, ok := r.Object.(*metav1.DeleteOptions)
			if !ok {
				t.Errorf("replicaset deleted with body %q, want DeleteOptions", r.Body)
				continue
			}
			if p := opts.PropagationPolicy; p == nil || *p != metav1.DeletePropagationForeground {
				t.Errorf("replicaset deleted with policy %v, want Foreground", p)
			}
		}
	}
}

func TestOrphanDeletionKeepsDependents(t *testing.T) {
	c := newCluster(t)
	c.tree(t)
	c.run(t)

	c.delete(t, deployments, "web", metav1.DeletePropagationOrphan)
	c.Eventually(t, "the deployment gone", c.gone(deployments, "web"))
	rs, ok := c.get(replicasets, "web-1")
	if !ok {
		t.Fatal("orphaned replicaset was deleted")
	}
	if len(rs.OwnerReferences) != 0 {
		t.Errorf("orphaned replicaset still references %v", rs.OwnerReferences)
	}
	for _, p := range []string{"web-1-a", "web-1-b"} {
		if pod, ok := c.get(pods, p); !ok || len(pod.OwnerReferences) != 1 {
			t.Errorf("pod %s: exists %v, owners %v", p, ok, pod)
		}
	}
}

func TestDanglingReferencesFoundAtStart(t *testing.T) {
	c := newCluster(t)
	existing := c.add(t, replicasets, "live")
	ghost := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "ghost", UID: "never-existed"}
	c.add(t, pods, "orphan-of-ghost", ghost)
	reused := owner(existing, true)
	reused.UID = "old-incarnation"
	c.add(t, pods, "orphan-of-old-uid", reused)
	c.add(t, pods, "child-of-live", owner(existing, true))

	// The owner is of a kind the collector does not watch, so only a live read finds it.
	rc := c.add(t, replicationcontrollers, "db")
	c.add(t, pods, "db-0", owner(rc, true))
	c.run(t)

	c.Eventually(t, "the dangling pods collected", c.gone(pods, "orphan-of-ghost", "orphan-of-old-uid"))
	c.Eventually(t, "a live read of the replicationcontroller", func() (bool, string) {
		for _, r := range c.Requests() {
			if r.Verb == "get" && r.Resource == replicationcontrollers.Resource {
				return true, ""
			}
		}
		return false, "the replicationcontroller owner was never read live"
	})
	for _, p := range []string{"child-of-live", "db-0"} {
		if _, ok := c.get(pods, p); !ok {
			t.Errorf("pod %s with a living owner was deleted", p)
		}
	}
}
