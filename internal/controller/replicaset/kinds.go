package replicaset

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// kind is what differs between ReplicaSets and ReplicationControllers: how
// they are named, read and written. Everything else works on *appsv1.ReplicaSet.
type kind struct {
	gvk       schema.GroupVersionKind
	component string // event source, as upstream names it
	queue     string // the work queue's name (its workqueue_* metrics), as upstream names it
	// reportTerminating says whether status has terminatingReplicas
	// (ReplicaSets do; ReplicationControllers have no such field).
	reportTerminating bool
	informer          cache.SharedIndexInformer
	store             store
}

// store reads and writes one kind's objects as ReplicaSets.
type store interface {
	// get returns the cached object. The result must not be modified.
	get(namespace, name string) (*appsv1.ReplicaSet, error)
	// list returns the cached objects of a namespace. They must not be modified.
	list(namespace string) ([]*appsv1.ReplicaSet, error)
	// fetch reads the object from the API server, bypassing the cache.
	fetch(ctx context.Context, namespace, name string) (*appsv1.ReplicaSet, error)
	// updateStatus writes rs.Status through the status subresource.
	updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error)
	// convert turns an informer object into a ReplicaSet, if it is one of ours.
	convert(obj any) (*appsv1.ReplicaSet, bool)
}

func replicaSetKind(client kubernetes.Interface, factory informers.SharedInformerFactory) kind {
	inf := factory.Apps().V1().ReplicaSets()
	return kind{
		gvk:               appsv1.SchemeGroupVersion.WithKind("ReplicaSet"),
		component:         "replicaset-controller",
		queue:             "replicaset",
		reportTerminating: true,
		informer:          inf.Informer(),
		store:             replicaSets{lister: inf.Lister(), client: client},
	}
}

func replicationControllerKind(client kubernetes.Interface, factory informers.SharedInformerFactory) kind {
	inf := factory.Core().V1().ReplicationControllers()
	return kind{
		gvk:       v1.SchemeGroupVersion.WithKind("ReplicationController"),
		component: "replication-controller",
		queue:     "replicationmanager",
		informer:  inf.Informer(),
		store:     replicationControllers{lister: inf.Lister(), client: client},
	}
}

// ref is the object reference events are recorded against.
func (k kind) ref(rs *appsv1.ReplicaSet) *v1.ObjectReference {
	return &v1.ObjectReference{
		APIVersion:      k.gvk.GroupVersion().String(),
		Kind:            k.gvk.Kind,
		Namespace:       rs.Namespace,
		Name:            rs.Name,
		UID:             rs.UID,
		ResourceVersion: rs.ResourceVersion,
	}
}

type replicaSets struct {
	lister appslisters.ReplicaSetLister
	client kubernetes.Interface
}

func (s replicaSets) get(namespace, name string) (*appsv1.ReplicaSet, error) {
	return s.lister.ReplicaSets(namespace).Get(name)
}

func (s replicaSets) list(namespace string) ([]*appsv1.ReplicaSet, error) {
	return s.lister.ReplicaSets(namespace).List(labels.Everything())
}

func (s replicaSets) fetch(ctx context.Context, namespace, name string) (*appsv1.ReplicaSet, error) {
	return s.client.AppsV1().ReplicaSets(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (s replicaSets) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	return s.client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{})
}

func (replicaSets) convert(obj any) (*appsv1.ReplicaSet, bool) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	return rs, ok
}

type replicationControllers struct {
	lister corelisters.ReplicationControllerLister
	client kubernetes.Interface
}

func (s replicationControllers) get(namespace, name string) (*appsv1.ReplicaSet, error) {
	rc, err := s.lister.ReplicationControllers(namespace).Get(name)
	if err != nil {
		return nil, err
	}
	return fromReplicationController(rc), nil
}

func (s replicationControllers) list(namespace string) ([]*appsv1.ReplicaSet, error) {
	rcs, err := s.lister.ReplicationControllers(namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	out := make([]*appsv1.ReplicaSet, len(rcs))
	for i, rc := range rcs {
		out[i] = fromReplicationController(rc)
	}
	return out, nil
}

func (s replicationControllers) fetch(ctx context.Context, namespace, name string) (*appsv1.ReplicaSet, error) {
	rc, err := s.client.CoreV1().ReplicationControllers(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return fromReplicationController(rc), nil
}

func (s replicationControllers) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	rc, err := s.client.CoreV1().ReplicationControllers(rs.Namespace).UpdateStatus(ctx, toReplicationController(rs), metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	return fromReplicationController(rc), nil
}

func (replicationControllers) convert(obj any) (*appsv1.ReplicaSet, bool) {
	rc, ok := obj.(*v1.ReplicationController)
	if !ok {
		return nil, false
	}
	return fromReplicationController(rc), true
}

// fromReplicationController views rc as a ReplicaSet. Metadata is shared with
// rc, so the result is as read-only as rc is.
func fromReplicationController(rc *v1.ReplicationController) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: rc.ObjectMeta,
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        rc.Spec.Replicas,
			MinReadySeconds: rc.Spec.MinReadySeconds,
			Selector:        &metav1.LabelSelector{MatchLabels: rc.Spec.Selector},
		},
		Status: appsv1.ReplicaSetStatus{
			Replicas:             rc.Status.Replicas,
			FullyLabeledReplicas: rc.Status.FullyLabeledReplicas,
			ReadyReplicas:        rc.Status.ReadyReplicas,
			AvailableReplicas:    rc.Status.AvailableReplicas,
			ObservedGeneration:   rc.Status.ObservedGeneration,
		},
	}
	if rc.Spec.Template != nil {
		rs.Spec.Template = *rc.Spec.Template
	}
	for _, c := range rc.Status.Conditions {
		rs.Status.Conditions = append(rs.Status.Conditions, appsv1.ReplicaSetCondition{
			Type:               appsv1.ReplicaSetConditionType(c.Type),
			Status:             c.Status,
			LastTransitionTime: c.LastTransitionTime,
			Reason:             c.Reason,
			Message:            c.Message,
		})
	}
	return rs
}

// toReplicationController is the inverse of fromReplicationController.
func toReplicationController(rs *appsv1.ReplicaSet) *v1.ReplicationController {
	rc := &v1.ReplicationController{
		ObjectMeta: rs.ObjectMeta,
		Spec: v1.ReplicationControllerSpec{
			Replicas:        rs.Spec.Replicas,
			MinReadySeconds: rs.Spec.MinReadySeconds,
		},
		Status: v1.ReplicationControllerStatus{
			Replicas:             rs.Status.Replicas,
			FullyLabeledReplicas: rs.Status.FullyLabeledReplicas,
			ReadyReplicas:        rs.Status.ReadyReplicas,
			AvailableReplicas:    rs.Status.AvailableReplicas,
			ObservedGeneration:   rs.Status.ObservedGeneration,
		},
	}
	if rs.Spec.Selector != nil {
		rc.Spec.Selector = rs.Spec.Selector.MatchLabels
	}
	template := rs.Spec.Template
	rc.Spec.Template = &template
	for _, c := range rs.Status.Conditions {
		rc.Status.Conditions = append(rc.Status.Conditions, v1.ReplicationControllerCondition{
			Type:               v1.ReplicationControllerConditionType(c.Type),
			Status:             c.Status,
			LastTransitionTime: c.LastTransitionTime,
			Reason:             c.Reason,
			Message:            c.Message,
		})
	}
	return rc
}

// controllerUIDIndex maps a controller's UID to the ReplicaSets it controls,
// to find the siblings of a Deployment's ReplicaSet when ranking pods.
const controllerUIDIndex = "replicaset.controller"

func indexByControllerUID(obj any) ([]string, error) {
	o, ok := obj.(metav1.Object)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOfNoCopy(o); ref != nil {
		return []string{string(ref.UID)}, nil
	}
	return nil, nil
}

// siblings returns the objects controlled by the same controller as rs,
// rs included; nil if rs has no controller.
func (k kind) siblings(rs *appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	ref := metav1.GetControllerOfNoCopy(rs)
	if ref == nil {
		return nil
	}
	var out []*appsv1.ReplicaSet
	if _, ok := k.informer.GetIndexer().GetIndexers()[controllerUIDIndex]; ok {
		objs, err := k.informer.GetIndexer().ByIndex(controllerUIDIndex, string(ref.UID))
		if err == nil {
			for _, obj := range objs {
				if sib, ok := k.store.convert(obj); ok && sib.Namespace == rs.Namespace {
					out = append(out, sib)
				}
			}
			return out
		}
	}
	all, err := k.store.list(rs.Namespace)
	if err != nil {
		return nil
	}
	for _, sib := range all {
		if r := metav1.GetControllerOfNoCopy(sib); r != nil && r.UID == ref.UID {
			out = append(out, sib)
		}
	}
	return out
}
