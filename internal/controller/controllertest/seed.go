package controllertest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
)

// Create stores obj through the API, as the user and the node agents that made it would
// have, and then overwrites obj with what the server holds, so that a test can compare with
// what the server assigned (UID, creationTimestamp, name from generateName, defaults):
//
//   - what only the server sets (uid, resourceVersion, creationTimestamp, generation,
//     deletionTimestamp) is left to it, and an owner reference to an object created earlier
//     with a UID of the test's choosing is pointed at the UID the server gave that object;
//   - the object's namespace is created first if it does not exist;
//   - status is written through the status subresource, over what the server defaulted;
//   - an object with a deletionTimestamp is deleted (with its deletionGracePeriodSeconds),
//     and something must then hold it: a finalizer, a pod's grace period, a namespace's
//     spec.finalizers.
//
// Its requests are not among Requests.
func (c *Cluster) Create(t testing.TB, obj runtime.Object) {
	t.Helper()
	c.seed(t, []runtime.Object{obj})
}

// serverSet are the metadata fields only the server sets.
var serverSet = []string{"uid", "resourceVersion", "creationTimestamp", "generation", "deletionTimestamp",
	"deletionGracePeriodSeconds", "managedFields", "selfLink"}

// seeded is an object created by seed, and what remains to be done to it.
type seeded struct {
	obj      runtime.Object // the test's, overwritten at the end
	client   dynamic.ResourceInterface
	name     string
	status   any // the status to write; nil for none
	deleting bool
	grace    *int64
}

// seed creates objects in order, then deletes those marked for deletion, last first, then
// writes their status, then overwrites each with what the server holds.
func (c *Cluster) seed(t testing.TB, objects []runtime.Object) {
	t.Helper()
	var all []*seeded
	for _, obj := range objects {
		s, err := c.create(obj)
		if err != nil {
			t.Fatalf("controllertest: create %T: %v", obj, err)
		}
		all = append(all, s)
	}
	for _, s := range slices.Backward(all) {
		if !s.deleting {
			continue
		}
		if err := s.client.Delete(c.ctx, s.name, metav1.DeleteOptions{GracePeriodSeconds: s.grace}); err != nil {
			t.Fatalf("controllertest: delete %T %s: %v", s.obj, s.name, err)
		}
	}
	for _, s := range all {
		cur, err := s.client.Get(c.ctx, s.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && s.deleting {
			t.Fatalf("controllertest: %T %s is marked for deletion, but nothing held it: give it a finalizer", s.obj, s.name)
		}
		if err != nil {
			t.Fatalf("controllertest: read %T %s back: %v", s.obj, s.name, err)
		}
		if s.status != nil {
			if merged := merge(cur.Object["status"], s.status); !equality.Semantic.DeepEqual(merged, cur.Object["status"]) {
				cur.Object["status"] = merged
				if cur, err = s.client.UpdateStatus(c.ctx, cur, metav1.UpdateOptions{}); err != nil {
					t.Fatalf("controllertest: write the status of %T %s: %v", s.obj, s.name, err)
				}
			}
		}
		if err := writeBack(cur, s.obj); err != nil {
			t.Fatalf("controllertest: %T %s: %v", s.obj, s.name, err)
		}
	}
}

// create creates obj with what a client may set of it.
func (c *Cluster) create(obj runtime.Object) (*seeded, error) {
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(gvks, func(k schema.GroupVersionKind) bool { return c.kinds[k] != nil })
	if i < 0 {
		return nil, fmt.Errorf("kind %v is not served", gvks)
	}
	gvk, res := gvks[i], c.kinds[gvks[i]]
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	o := &unstructured.Unstructured{Object: u}
	s := &seeded{obj: obj, deleting: o.GetDeletionTimestamp() != nil, grace: o.GetDeletionGracePeriodSeconds()}
	if slices.Contains(res.Subresources, "status") {
		s.status = u["status"]
		delete(u, "status")
	}
	given := o.GetUID()
	for _, f := range serverSet {
		unstructured.RemoveNestedField(u, "metadata", f)
	}
	if refs := o.GetOwnerReferences(); len(refs) > 0 {
		for i := range refs {
			if uid, ok := c.uids[string(refs[i].UID)]; ok {
				refs[i].UID = types.UID(uid)
			}
		}
		o.SetOwnerReferences(refs)
	}
	o.SetGroupVersionKind(gvk)

	s.client = c.admin.Resource(res.GVR)
	if res.Namespaced {
		ns := o.GetNamespace()
		if ns == "" {
			return nil, fmt.Errorf("%s %s has no namespace", gvk.Kind, o.GetName())
		}
		if err := c.ensureNamespace(ns); err != nil {
			return nil, err
		}
		s.client = c.admin.Resource(res.GVR).Namespace(ns)
	}
	created, err := s.client.Create(c.ctx, o, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	s.name = created.GetName()
	if given != "" {
		c.uids[string(given)] = string(created.GetUID())
	}
	return s, nil
}

var namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// ensureNamespace creates namespace ns unless it exists.
func (c *Cluster) ensureNamespace(ns string) error {
	nss := c.admin.Resource(namespacesGVR)
	if _, err := nss.Get(c.ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return err
	}
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("v1")
	obj.SetKind("Namespace")
	obj.SetName(ns)
	if _, err := nss.Create(c.ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	return nil
}

// merge returns over laid over base: maps are merged key by key, anything else is replaced.
func merge(base, over any) any {
	b, ok1 := base.(map[string]any)
	o, ok2 := over.(map[string]any)
	if !ok1 || !ok2 {
		return over
	}
	out := make(map[string]any, len(b)+len(o))
	for k, v := range b {
		out[k] = v
	}
	for k, v := range o {
		out[k] = merge(b[k], v)
	}
	return out
}

// writeBack overwrites the typed object obj with u.
func writeBack(u *unstructured.Unstructured, obj runtime.Object) error {
	v := reflect.ValueOf(obj).Elem()
	v.Set(reflect.Zero(v.Type()))
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return err
	}
	obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	return nil
}
