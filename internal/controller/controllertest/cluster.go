package controllertest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

// Epoch is the fake clock's starting time.
var Epoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

var bigWatchBuffers sync.Once

// Cluster is a fake API server with informers over it.
type Cluster struct {
	Client  *fake.Clientset
	Clock   *Clock
	Factory informers.SharedInformerFactory

	mu sync.Mutex // guards rv
	rv int64

	changes *Changes // informer events, timers made and clock steps
}

// NewCluster returns a cluster holding objects. Informers for pods,
// ReplicaSets, ReplicationControllers and Deployments are registered so that
// waits wake up on their events; call Start after building controllers.
func NewCluster(objects ...runtime.Object) *Cluster {
	c := &Cluster{changes: NewChanges()}
	c.Clock = newClock(Epoch, c.changes.Notify)
	for _, obj := range objects {
		m, err := meta.Accessor(obj)
		if err != nil {
			panic(err)
		}
		if m.GetResourceVersion() == "" {
			m.SetResourceVersion(c.nextRV())
		}
	}
	// The fake's watchers panic when more than DefaultChanSize events are
	// pending; controllers create pods in bursts.
	bigWatchBuffers.Do(func() { watch.DefaultChanSize = 10000 })
	c.Client = fake.NewSimpleClientset(objects...)
	c.Client.PrependReactor("*", "*", c.react)
	c.Factory = informers.NewSharedInformerFactory(c.Client, 0)
	if err := c.changes.watch(
		c.Factory.Core().V1().Pods().Informer(),
		c.Factory.Core().V1().ReplicationControllers().Informer(),
		c.Factory.Apps().V1().ReplicaSets().Informer(),
		c.Factory.Apps().V1().Deployments().Informer(),
	); err != nil {
		panic(err)
	}
	return c
}

// Watch makes the events of more informers wake Eventually.
func (c *Cluster) Watch(t testing.TB, informers ...cache.SharedInformer) {
	t.Helper()
	c.changes.Watch(t, informers...)
}

// Start starts the informers and waits for their caches.
func (c *Cluster) Start(t testing.TB, ctx context.Context) {
	t.Helper()
	c.Factory.Start(ctx.Done())
	for typ, ok := range c.Factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("cache for %v did not sync", typ)
		}
	}
}

// Eventually waits until cond holds, re-checking after every informer event,
// timer creation and clock step. On timeout it fails the test with what and
// the last explanation cond gave.
func (c *Cluster) Eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	c.changes.Eventually(t, what, cond)
}

// Step advances the fake clock and wakes waiters.
func (c *Cluster) Step(d time.Duration) {
	c.Clock.Step(d)
	c.changes.Notify()
}

func (c *Cluster) nextRV() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rv++
	return strconv.FormatInt(c.rv, 10)
}

func (c *Cluster) react(action k8stesting.Action) (bool, runtime.Object, error) {
	if action.GetSubresource() != "" && action.GetSubresource() != "status" {
		return false, nil, nil
	}
	switch action.GetVerb() {
	case "create":
		if action.GetSubresource() != "" {
			return false, nil, nil
		}
		obj, err := c.create(action.(k8stesting.CreateAction))
		return true, obj, err
	case "update":
		a := action.(k8stesting.UpdateAction)
		obj, err := c.update(a, a.GetObject().DeepCopyObject(), true)
		return true, obj, err
	case "patch":
		obj, err := c.patch(action.(k8stesting.PatchAction))
		return true, obj, err
	}
	return false, nil, nil
}

func (c *Cluster) create(a k8stesting.CreateAction) (runtime.Object, error) {
	obj := a.GetObject().DeepCopyObject()
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + utilrand.String(5))
	}
	if m.GetName() == "" {
		return nil, apierrors.NewBadRequest("name or generateName is required")
	}
	if a.GetNamespace() != "" {
		m.SetNamespace(a.GetNamespace())
	}
	m.SetUID(uuid.NewUUID())
	m.SetCreationTimestamp(metav1.NewTime(c.Clock.Now()))
	m.SetResourceVersion(c.nextRV())
	m.SetGeneration(1)
	if err := c.Client.Tracker().Create(a.GetResource(), obj, a.GetNamespace()); err != nil {
		return nil, err
	}
	return obj.DeepCopyObject(), nil
}

// update stores obj over the current object the way the API server would.
// checkRV enables optimistic concurrency on obj's resourceVersion.
func (c *Cluster) update(a k8stesting.Action, obj runtime.Object, checkRV bool) (runtime.Object, error) {
	gvr, ns := a.GetResource(), a.GetNamespace()
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	old, err := c.Client.Tracker().Get(gvr, ns, m.GetName())
	if err != nil {
		return nil, err
	}
	om, _ := meta.Accessor(old)
	if checkRV && m.GetResourceVersion() != "" && m.GetResourceVersion() != om.GetResourceVersion() {
		return nil, apierrors.NewConflict(gvr.GroupResource(), m.GetName(),
			fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	}
	if m.GetUID() != "" && m.GetUID() != om.GetUID() {
		return nil, apierrors.NewConflict(gvr.GroupResource(), m.GetName(),
			fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", m.GetUID(), om.GetUID()))
	}

	oldU, err := runtime.DefaultUnstructuredConverter.ToUnstructured(old)
	if err != nil {
		return nil, err
	}
	newU, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	if a.GetSubresource() == "status" {
		// The status subresource changes status (and, as upstream allows for
		// Deployments, annotations) but never spec or labels.
		setOrDelete(newU, "spec", oldU["spec"])
		newMeta := newU["metadata"].(map[string]any)
		oldMeta := oldU["metadata"].(map[string]any)
		setOrDelete(newMeta, "labels", oldMeta["labels"])
	} else if st, ok := oldU["status"]; ok {
		newU["status"] = st
	}

	out := reflect.New(reflect.TypeOf(old).Elem()).Interface().(runtime.Object)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(newU, out); err != nil {
		return nil, err
	}
	nm, _ := meta.Accessor(out)
	nm.SetUID(om.GetUID())
	nm.SetCreationTimestamp(om.GetCreationTimestamp())
	nm.SetDeletionTimestamp(om.GetDeletionTimestamp())
	nm.SetGeneration(om.GetGeneration())
	if !reflect.DeepEqual(oldU["spec"], newU["spec"]) {
		nm.SetGeneration(om.GetGeneration() + 1)
	}
	nm.SetResourceVersion(c.nextRV())
	if err := c.Client.Tracker().Update(gvr, out, ns); err != nil {
		return nil, err
	}
	return out.DeepCopyObject(), nil
}

func setOrDelete(m map[string]any, key string, v any) {
	if v == nil {
		delete(m, key)
		return
	}
	m[key] = v
}

func (c *Cluster) patch(a k8stesting.PatchAction) (runtime.Object, error) {
	old, err := c.Client.Tracker().Get(a.GetResource(), a.GetNamespace(), a.GetName())
	if err != nil {
		return nil, err
	}
	oldJSON, err := json.Marshal(old)
	if err != nil {
		return nil, err
	}
	var newJSON []byte
	switch a.GetPatchType() {
	case types.StrategicMergePatchType:
		newJSON, err = strategicpatch.StrategicMergePatch(oldJSON, a.GetPatch(), reflect.New(reflect.TypeOf(old).Elem()).Interface())
	case types.MergePatchType:
		newJSON, err = jsonpatch.MergePatch(oldJSON, a.GetPatch())
	case types.JSONPatchType:
		var p jsonpatch.Patch
		if p, err = jsonpatch.DecodePatch(a.GetPatch()); err == nil {
			newJSON, err = p.Apply(oldJSON)
		}
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("patch type %s not supported", a.GetPatchType()))
	}
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	obj := reflect.New(reflect.TypeOf(old).Elem()).Interface().(runtime.Object)
	if err := json.Unmarshal(newJSON, obj); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return c.update(a, obj, false)
}
