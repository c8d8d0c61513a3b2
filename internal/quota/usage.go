package quota

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	resourcehelper "k8s.io/component-helpers/resource"
)

// The quota resource names this package understands, per kind.
var (
	podResources = sets.New[v1.ResourceName](
		v1.ResourcePods, "count/pods",
		v1.ResourceCPU, v1.ResourceMemory, v1.ResourceEphemeralStorage,
		v1.ResourceRequestsCPU, v1.ResourceRequestsMemory, v1.ResourceRequestsEphemeralStorage,
		v1.ResourceLimitsCPU, v1.ResourceLimitsMemory, v1.ResourceLimitsEphemeralStorage,
	)
	serviceResources = sets.New[v1.ResourceName](
		v1.ResourceServices, "count/services", v1.ResourceServicesNodePorts, v1.ResourceServicesLoadBalancers,
	)
	rcResources        = sets.New[v1.ResourceName](v1.ResourceReplicationControllers, "count/replicationcontrollers")
	configMapResources = sets.New[v1.ResourceName](v1.ResourceConfigMaps, "count/configmaps")
	secretResources    = sets.New[v1.ResourceName](v1.ResourceSecrets, "count/secrets")
)

// tracks returns the quota resource names that objects of obj's kind use.
func tracks(obj runtime.Object) sets.Set[v1.ResourceName] {
	switch obj.(type) {
	case *v1.Pod:
		return podResources
	case *v1.Service:
		return serviceResources
	case *v1.ReplicationController:
		return rcResources
	case *v1.ConfigMap:
		return configMapResources
	case *v1.Secret:
		return secretResources
	}
	return nil
}

// Tracked reports whether usage is computed for name.
func Tracked(name v1.ResourceName) bool {
	return podResources.Has(name) || serviceResources.Has(name) || rcResources.Has(name) ||
		configMapResources.Has(name) || secretResources.Has(name)
}

// LimitsKindOf reports whether quota's spec.hard names a resource that objects of obj's kind
// use, so that counting them matters; obj may be the kind's zero value, &v1.Pod{} say.
func LimitsKindOf(quota *v1.ResourceQuota, obj runtime.Object) bool {
	kinds := tracks(obj)
	for name := range quota.Spec.Hard {
		if kinds.Has(name) {
			return true
		}
	}
	return false
}

// ObjectUsage returns everything obj counts for under a quota. A pod always
// counts for count/pods; while it is neither terminal (Succeeded, Failed) nor
// being deleted it also counts for pods and its cpu, memory and
// ephemeral-storage requests (under both "cpu" and "requests.cpu") and limits.
func ObjectUsage(obj runtime.Object) v1.ResourceList {
	switch o := obj.(type) {
	case *v1.Pod:
		return podUsage(o)
	case *v1.Service:
		u := count("services")
		var ports, balancers int64
		switch o.Spec.Type {
		case v1.ServiceTypeNodePort:
			ports = int64(len(o.Spec.Ports))
		case v1.ServiceTypeLoadBalancer:
			balancers = 1
			if o.Spec.AllocateLoadBalancerNodePorts == nil || *o.Spec.AllocateLoadBalancerNodePorts {
				ports = int64(len(o.Spec.Ports))
			}
		}
		u[v1.ResourceServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
		u[v1.ResourceServicesLoadBalancers] = *resource.NewQuantity(balancers, resource.DecimalSI)
		return u
	case *v1.ReplicationController:
		return count("replicationcontrollers")
	case *v1.ConfigMap:
		return count("configmaps")
	case *v1.Secret:
		return count("secrets")
	}
	return v1.ResourceList{}
}

func count(resourceName string) v1.ResourceList {
	one := *resource.NewQuantity(1, resource.DecimalSI)
	return v1.ResourceList{v1.ResourceName(resourceName): one, v1.ResourceName("count/" + resourceName): one.DeepCopy()}
}

func podUsage(pod *v1.Pod) v1.ResourceList {
	u := v1.ResourceList{"count/pods": *resource.NewQuantity(1, resource.DecimalSI)}
	if pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed || pod.DeletionTimestamp != nil {
		return u
	}
	u[v1.ResourcePods] = *resource.NewQuantity(1, resource.DecimalSI)
	requests := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	limits := resourcehelper.PodLimits(pod, resourcehelper.PodResourcesOptions{})
	for _, r := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory, v1.ResourceEphemeralStorage} {
		if q, ok := requests[r]; ok {
			u[r] = q.DeepCopy()
			u[v1.DefaultResourceRequestsPrefix+r] = q.DeepCopy()
		}
		if q, ok := limits[r]; ok {
			u["limits."+r] = q.DeepCopy()
		}
	}
	return u
}

// Matches reports whether quota applies to obj: a quota with scopes (or a
// scope selector) covers only pods that match all of them.
func Matches(quota *v1.ResourceQuota, obj runtime.Object) bool {
	scopes := scopeRequirements(quota)
	if len(scopes) == 0 {
		return true
	}
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return false
	}
	for _, s := range scopes {
		if !podMatchesScope(pod, s) {
			return false
		}
	}
	return true
}

func scopeRequirements(quota *v1.ResourceQuota) []v1.ScopedResourceSelectorRequirement {
	var out []v1.ScopedResourceSelectorRequirement
	for _, s := range quota.Spec.Scopes {
		out = append(out, v1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: v1.ScopeSelectorOpExists})
	}
	if quota.Spec.ScopeSelector != nil {
		out = append(out, quota.Spec.ScopeSelector.MatchExpressions...)
	}
	return out
}

func podMatchesScope(pod *v1.Pod, s v1.ScopedResourceSelectorRequirement) bool {
	switch s.ScopeName {
	case v1.ResourceQuotaScopeTerminating:
		return isTerminating(pod)
	case v1.ResourceQuotaScopeNotTerminating:
		return !isTerminating(pod)
	case v1.ResourceQuotaScopeBestEffort:
		return isBestEffort(pod)
	case v1.ResourceQuotaScopeNotBestEffort:
		return !isBestEffort(pod)
	case v1.ResourceQuotaScopePriorityClass:
		name := pod.Spec.PriorityClassName
		switch s.Operator {
		case v1.ScopeSelectorOpExists:
			return name != ""
		case v1.ScopeSelectorOpDoesNotExist:
			return name == ""
		case v1.ScopeSelectorOpIn:
			return name != "" && sets.New(s.Values...).Has(name)
		case v1.ScopeSelectorOpNotIn:
			return !sets.New(s.Values...).Has(name)
		}
	}
	return false
}

func isTerminating(pod *v1.Pod) bool {
	return pod.Spec.ActiveDeadlineSeconds != nil && *pod.Spec.ActiveDeadlineSeconds >= 0
}

// isBestEffort: no container sets a cpu or memory request or limit.
func isBestEffort(pod *v1.Pod) bool {
	for _, cs := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, list := range []v1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
				for _, r := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
					if q, ok := list[r]; ok && !q.IsZero() {
						return false
					}
				}
			}
		}
	}
	return true
}

// Usage returns status.used for quota over objects, the namespace's objects
// of every kind quota tracks: one entry per tracked name in spec.hard, zero
// when nothing counts.
func Usage(quota *v1.ResourceQuota, objects []runtime.Object) v1.ResourceList {
	used := v1.ResourceList{}
	for name := range quota.Spec.Hard {
		if Tracked(name) {
			used[name] = resource.Quantity{Format: resource.DecimalSI}
		}
	}
	for _, obj := range objects {
		if !Matches(quota, obj) {
			continue
		}
		for name, q := range ObjectUsage(obj) {
			if cur, ok := used[name]; ok {
				cur.Add(q)
				used[name] = cur
			}
		}
	}
	return used
}
