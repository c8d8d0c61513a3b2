package registry

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	verbsAll      = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	verbsNoDelCol = []string{"create", "delete", "get", "list", "patch", "update", "watch"}
)

// All returns every resource skiff serves, in discovery order, with its rules and printing attached.
func All() []*Resource {
	core := func(res string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Version: "v1", Resource: res}
	}
	apps := func(res string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: res}
	}
	rs := []*Resource{
		{GVR: core("namespaces"), Kind: "Namespace", ShortNames: []string{"ns"},
			Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"}, Subresources: []string{"status", "finalize"},
			New: func() runtime.Object { return &corev1.Namespace{} }, NewList: func() runtime.Object { return &corev1.NamespaceList{} }},
		{GVR: core("pods"), Kind: "Pod", Namespaced: true, ShortNames: []string{"po"}, Categories: []string{"all"},
			Verbs: verbsAll, Subresources: []string{"status", "binding", "log", "proxy", "eviction"},
			New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} }},
		{GVR: core("services"), Kind: "Service", Namespaced: true, ShortNames: []string{"svc"}, Categories: []string{"all"},
			Verbs: verbsAll, Subresources: []string{"status", "proxy"},
			New: func() runtime.Object { return &corev1.Service{} }, NewList: func() runtime.Object { return &corev1.ServiceList{} }},
		{GVR: core("endpoints"), Kind: "Endpoints", Namespaced: true, ShortNames: []string{"ep"},
			Verbs: verbsAll,
			New:   func() runtime.Object { return &corev1.Endpoints{} }, NewList: func() runtime.Object { return &corev1.EndpointsList{} }},
		{GVR: core("events"), Kind: "Event", Namespaced: true, ShortNames: []string{"ev"},
			Verbs: verbsAll,
			New:   func() runtime.Object { return &corev1.Event{} }, NewList: func() runtime.Object { return &corev1.EventList{} }},
		{GVR: core("nodes"), Kind: "Node", ShortNames: []string{"no"},
			Verbs: verbsAll, Subresources: []string{"status", "proxy"},
			New: func() runtime.Object { return &corev1.Node{} }, NewList: func() runtime.Object { return &corev1.NodeList{} }},
		{GVR: core("replicationcontrollers"), Kind: "ReplicationController", Namespaced: true,
			ShortNames: []string{"rc"}, Categories: []string{"all"}, Verbs: verbsAll, Subresources: []string{"status", "scale"},
			New:     func() runtime.Object { return &corev1.ReplicationController{} },
			NewList: func() runtime.Object { return &corev1.ReplicationControllerList{} }},
		{GVR: core("configmaps"), Kind: "ConfigMap", Namespaced: true, ShortNames: []string{"cm"},
			Verbs: verbsAll,
			New:   func() runtime.Object { return &corev1.ConfigMap{} }, NewList: func() runtime.Object { return &corev1.ConfigMapList{} }},
		{GVR: core("secrets"), Kind: "Secret", Namespaced: true,
			Verbs: verbsAll,
			New:   func() runtime.Object { return &corev1.Secret{} }, NewList: func() runtime.Object { return &corev1.SecretList{} }},
		{GVR: core("resourcequotas"), Kind: "ResourceQuota", Namespaced: true, ShortNames: []string{"quota"},
			Verbs: verbsAll, Subresources: []string{"status"},
			New: func() runtime.Object { return &corev1.ResourceQuota{} }, NewList: func() runtime.Object { return &corev1.ResourceQuotaList{} }},
		{GVR: core("serviceaccounts"), Kind: "ServiceAccount", Namespaced: true, ShortNames: []string{"sa"},
			Verbs: verbsAll,
			New:   func() runtime.Object { return &corev1.ServiceAccount{} }, NewList: func() runtime.Object { return &corev1.ServiceAccountList{} }},
		{GVR: apps("deployments"), Kind: "Deployment", Namespaced: true, ShortNames: []string{"deploy"}, Categories: []string{"all"},
			Verbs: verbsAll, Subresources: []string{"status", "scale"},
			New: func() runtime.Object { return &appsv1.Deployment{} }, NewList: func() runtime.Object { return &appsv1.DeploymentList{} }},
		{GVR: apps("replicasets"), Kind: "ReplicaSet", Namespaced: true, ShortNames: []string{"rs"}, Categories: []string{"all"},
			Verbs: verbsAll, Subresources: []string{"status", "scale"},
			New: func() runtime.Object { return &appsv1.ReplicaSet{} }, NewList: func() runtime.Object { return &appsv1.ReplicaSetList{} }},
		{GVR: apps("controllerrevisions"), Kind: "ControllerRevision", Namespaced: true,
			Verbs: verbsAll,
			New:   func() runtime.Object { return &appsv1.ControllerRevision{} }, NewList: func() runtime.Object { return &appsv1.ControllerRevisionList{} }},
		{GVR: schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}, Kind: "EndpointSlice",
			Namespaced: true, Verbs: verbsAll,
			New:     func() runtime.Object { return &discoveryv1.EndpointSlice{} },
			NewList: func() runtime.Object { return &discoveryv1.EndpointSliceList{} }},
		{GVR: schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}, Kind: "Lease",
			Namespaced: true, Verbs: verbsAll,
			New: func() runtime.Object { return &coordinationv1.Lease{} }, NewList: func() runtime.Object { return &coordinationv1.LeaseList{} }},
	}
	for _, r := range rs {
		r.ListKind = r.Kind + "List"
		r.SingularName = lower(r.Kind)
		withScale(r)
		withRules(r)
		withPrinting(r)
	}
	return rs
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// withScale attaches the scale subresource accessors to the resources that have one.
func withScale(r *Resource) {
	scale := func(meta metav1.ObjectMeta, spec int32, status int32, selector string) *autoscalingv1.Scale {
		return &autoscalingv1.Scale{
			TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
			ObjectMeta: metav1.ObjectMeta{Name: meta.Name, Namespace: meta.Namespace, UID: meta.UID,
				ResourceVersion: meta.ResourceVersion, CreationTimestamp: meta.CreationTimestamp},
			Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
			Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
		}
	}
	deref := func(p *int32) int32 {
		if p == nil {
			return 1
		}
		return *p
	}
	switch r.Kind {
	case "Deployment":
		r.GetScale = func(obj runtime.Object) *autoscalingv1.Scale {
			d := obj.(*appsv1.Deployment)
			return scale(d.ObjectMeta, deref(d.Spec.Replicas), d.Status.Replicas, selectorString(d.Spec.Selector))
		}
		r.SetReplicas = func(obj runtime.Object, n int32) { obj.(*appsv1.Deployment).Spec.Replicas = &n }
	case "ReplicaSet":
		r.GetScale = func(obj runtime.Object) *autoscalingv1.Scale {
			rs := obj.(*appsv1.ReplicaSet)
			return scale(rs.ObjectMeta, deref(rs.Spec.Replicas), rs.Status.Replicas, selectorString(rs.Spec.Selector))
		}
		r.SetReplicas = func(obj runtime.Object, n int32) { obj.(*appsv1.ReplicaSet).Spec.Replicas = &n }
	case "ReplicationController":
		r.GetScale = func(obj runtime.Object) *autoscalingv1.Scale {
			rc := obj.(*corev1.ReplicationController)
			sel := metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: rc.Spec.Selector})
			return scale(rc.ObjectMeta, deref(rc.Spec.Replicas), rc.Status.Replicas, sel)
		}
		r.SetReplicas = func(obj runtime.Object, n int32) { obj.(*corev1.ReplicationController).Spec.Replicas = &n }
	}
}

func selectorString(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return ""
	}
	return sel.String()
}
