package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/metadata/metadatainformer"
	k8stesting "k8s.io/client-go/testing"

	"github.com/skiff-dev/skiff/internal/controller/controllertest"
)

var (
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	replicasets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	pods        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	configmaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	// statefulsets are resolvable but not watched: only live reads see them.
	statefulsets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
)

var kinds = map[schema.GroupVersionResource]string{
	deployments: "Deployment", replicasets: "ReplicaSet", pods: "Pod", configmaps: "ConfigMap", statefulsets: "StatefulSet",
}

// cluster is a fake metadata client that deletes as the API server does:
// propagationPolicy becomes a finalizer, an object with finalizers only gets
// a deletionTimestamp, and it goes once its last finalizer is removed. It
// also keeps resourceVersions and honours them in patches and preconditions.
type cluster struct {
	client  *fake.FakeMetadataClient
	rv      atomic.Int64
	changes *controllertest.Changes // informer events and API calls
}

func (c *cluster) nextRV() string { return strconv.FormatInt(c.rv.Add(1), 10) }

func newCluster(t *testing.T) *cluster {
	scheme := fake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := &cluster{client: fake.NewSimpleMetadataClient(scheme), changes: controllertest.NewChanges()}
	tracker := c.client.Tracker()
	c.client.PrependReactor("delete", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.DeleteActionImpl)
		obj, err := tracker.Get(d.Resource, d.Namespace, d.Name)
		if err != nil {
			return true, nil, err
		}
		m := obj.(*metav1.PartialObjectMetadata).DeepCopy()
		if p := d.DeleteOptions.Preconditions; p != nil && ((p.UID != nil && *p.UID != m.UID) ||
			(p.ResourceVersion != nil && *p.ResourceVersion != m.ResourceVersion)) {
			return true, nil, apierrors.NewConflict(d.Resource.GroupResource(), d.Name, fmt.Errorf("precondition failed"))
		}
		if p := d.DeleteOptions.PropagationPolicy; p != nil {
			switch *p {
			case metav1.DeletePropagationForeground:
				m.Finalizers = appendOnce(m.Finalizers, metav1.FinalizerDeleteDependents)
			case metav1.DeletePropagationOrphan:
				m.Finalizers = appendOnce(m.Finalizers, metav1.FinalizerOrphanDependents)
			}
		}
		if len(m.Finalizers) == 0 {
			return true, nil, tracker.Delete(d.Resource, d.Namespace, d.Name)
		}
		if m.DeletionTimestamp == nil {
			m.DeletionTimestamp = &metav1.Time{Time: time.Now()}
		}
		m.ResourceVersion = c.nextRV()
		return true, nil, tracker.Update(d.Resource, m, d.Namespace)
	})
	c.client.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.PatchActionImpl)
		var patch struct {
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(p.Patch, &patch); err != nil {
			return true, nil, err
		}
		cur, err := tracker.Get(p.Resource, p.Namespace, p.Name)
		if err != nil {
			return true, nil, err
		}
		if rv := patch.Metadata.ResourceVersion; rv != "" && rv != cur.(*metav1.PartialObjectMetadata).ResourceVersion {
			return true, nil, apierrors.NewConflict(p.Resource.GroupResource(), p.Name, fmt.Errorf("stale resourceVersion"))
		}
		_, obj, err := k8stesting.ObjectReaction(tracker)(a)
		if err != nil {
			return true, obj, err
		}
		m := obj.(*metav1.PartialObjectMetadata).DeepCopy()
		if m.DeletionTimestamp != nil && len(m.Finalizers) == 0 {
			return true, obj, tracker.Delete(p.Resource, p.Namespace, p.Name)
		}
		m.ResourceVersion = c.nextRV()
		return true, m, tracker.Update(p.Resource, m, p.Namespace)
	})
	// Every call wakes waiters too, for conditions on the calls recorded: the fake records a
	// call before its reactors run.
	c.client.PrependReactor("*", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		c.changes.Notify()
		return false, nil, nil
	})
	return c
}

func appendOnce(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func (c *cluster) add(t *testing.T, gvr schema.GroupVersionResource, name string, owners ...metav1.OwnerReference) *metav1.PartialObjectMetadata {
	t.Helper()
	m := &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: gvr.GroupVersion().String(), Kind: kinds[gvr]},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: name, UID: types.UID(gvr.Resource + "-" + name), OwnerReferences: owners,
			ResourceVersion: c.nextRV(),
		},
	}
	if err := c.client.Tracker().Create(gvr, m, "ns"); err != nil {
		t.Fatalf("create %s %s: %v", gvr.Resource, name, err)
	}
	return m
}

func owner(o *metav1.PartialObjectMetadata, block bool) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, UID: o.UID, Controller: &yes, BlockOwnerDeletion: &block}
}

func (c *cluster) delete(t *testing.T, gvr schema.GroupVersionResource, name string, policy metav1.DeletionPropagation) {
	t.Helper()
	if err := c.client.Resource(gvr).Namespace("ns").Delete(context.Background(), name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
		t.Fatalf("delete %s %s: %v", gvr.Resource, name, err)
	}
}

func (c *cluster) get(gvr schema.GroupVersionResource, name string) (*metav1.PartialObjectMetadata, bool) {
	obj, err := c.client.Tracker().Get(gvr, "ns", name)
	if err != nil {
		return nil, false
	}
	return obj.(*metav1.PartialObjectMetadata), true
}

func (c *cluster) run(t *testing.T) {
	t.Helper()
	mapper := meta.NewDefaultRESTMapper(nil)
	for gvr, kind := range kinds {
		mapper.Add(gvr.GroupVersion().WithKind(kind), meta.RESTScopeNamespace)
	}
	factory := metadatainformer.NewSharedInformerFactory(c.client, 0)
	watched := []schema.GroupVersionResource{deployments, replicasets, pods, configmaps}
	gc, err := New(c.client, factory, mapper, watched, slog.New(slog.DiscardHandler), Options{RecheckInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, gvr := range watched {
		c.changes.Watch(t, factory.ForResource(gvr).Informer())
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
	c.add(t, pods, "shared", owner(rs, true), owner(cm, false))
	c.add(t, pods, "standalone")
	c.run(t)

	c.delete(t, deployments, "web", metav1.DeletePropagationBackground)
	c.changes.Eventually(t, "the replicaset collected", c.gone(replicasets, "web-1"))
	c.changes.Eventually(t, "its pods collected", c.gone(pods, "web-1-a", "web-1-b"))

	c.changes.Eventually(t, "the shared pod released", func() (bool, string) {
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
	c.changes.Eventually(t, "the deployment gone", c.gone(deployments, "web"))
	c.changes.Eventually(t, "the replicaset gone", c.gone(replicasets, "web-1"))
	c.changes.Eventually(t, "the pods gone", c.gone(pods, "web-1-a", "web-1-b"))

	// Order of writes: both pods deleted, then the replicaset released, then
	// the deployment.
	var order []string
	for _, a := range c.client.Actions() {
		switch a := a.(type) {
		case k8stesting.DeleteActionImpl:
			if a.Resource == pods {
				order = append(order, "delete "+a.Name)
			}
		case k8stesting.PatchActionImpl:
			order = append(order, "patch "+a.Name)
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
	for _, a := range c.client.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok && d.Resource == replicasets {
			if p := d.DeleteOptions.PropagationPolicy; p == nil || *p != metav1.DeletePropagationForeground {
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
	c.changes.Eventually(t, "the deployment gone", c.gone(deployments, "web"))
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
	sts := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db", UID: "sts-db"},
	}
	if err := c.client.Tracker().Create(statefulsets, sts, "ns"); err != nil {
		t.Fatal(err)
	}
	c.add(t, pods, "db-0", owner(sts, true))
	c.run(t)

	c.changes.Eventually(t, "the dangling pods collected", c.gone(pods, "orphan-of-ghost", "orphan-of-old-uid"))
	c.changes.Eventually(t, "a live read of the statefulset", func() (bool, string) {
		for _, a := range c.client.Actions() {
			if a.GetVerb() == "get" && a.GetResource() == statefulsets {
				return true, ""
			}
		}
		return false, "the statefulset owner was never read live"
	})
	for _, p := range []string{"child-of-live", "db-0"} {
		if _, ok := c.get(pods, p); !ok {
			t.Errorf("pod %s with a living owner was deleted", p)
		}
	}
}
