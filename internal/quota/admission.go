package quota

import (
	"fmt"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Only these are checked for "must specify" on pods, as upstream (which calls
// it a mistake it keeps for compatibility).
var mustSpecify = sets.New[v1.ResourceName](
	v1.ResourceCPU, v1.ResourceMemory, v1.ResourceRequestsCPU, v1.ResourceRequestsMemory,
	v1.ResourceLimitsCPU, v1.ResourceLimitsMemory,
)

// Admit decides whether creating obj fits quota, given used, the quota's
// current usage (pass quota.Status.Used, as Kubernetes' admission does). It
// checks against status.hard, so a quota the controller has not yet
// acknowledged limits nothing. On success it returns used plus obj's usage,
// which a server may write back to status.used to reserve it; on refusal the
// error reads as upstream's, e.g.
//
//	exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2
//
// and the server wraps it in 403 Forbidden.
func Admit(quota *v1.ResourceQuota, obj runtime.Object, used v1.ResourceList) (v1.ResourceList, error) {
	hard := quota.Status.Hard
	kinds := tracks(obj)
	if len(hard) == 0 || kinds == nil || !Matches(quota, obj) {
		return used, nil
	}
	var constrained []v1.ResourceName
	for name := range hard {
		if kinds.Has(name) {
			constrained = append(constrained, name)
		}
	}
	if len(constrained) == 0 {
		return used, nil
	}
	if pod, ok := obj.(*v1.Pod); ok {
		if err := podConstraints(pod, constrained); err != nil {
			return used, fmt.Errorf("failed quota: %s: %w", quota.Name, err)
		}
	}

	requested := mask(ObjectUsage(obj), constrained)
	if len(requested) == 0 {
		return used, nil
	}
	var unknown bool
	names := make([]string, 0, len(requested))
	for name := range requested {
		names = append(names, string(name))
		if _, ok := used[name]; !ok {
			unknown = true
		}
	}
	if unknown {
		sort.Strings(names)
		return used, fmt.Errorf("status unknown for quota: %s, resources: %s", quota.Name, strings.Join(names, ","))
	}

	var exceeded []v1.ResourceName
	for name, q := range requested {
		total := used[name].DeepCopy()
		total.Add(q)
		if total.Cmp(hard[name]) > 0 {
			exceeded = append(exceeded, name)
		}
	}
	if len(exceeded) > 0 {
		return used, fmt.Errorf("exceeded quota: %s, requested: %s, used: %s, limited: %s", quota.Name,
			pretty(mask(requested, exceeded)), pretty(mask(used, exceeded)), pretty(mask(hard, exceeded)))
	}
	out := used.DeepCopy()
	for name, q := range requested {
		cur := out[name]
		cur.Add(q)
		out[name] = cur
	}
	return out, nil
}

// podConstraints refuses a pod that leaves unset a cpu or memory request or
// limit that the quota constrains, worded as upstream:
// "must specify limits.cpu for: app; requests.memory for: app,sidecar".
func podConstraints(pod *v1.Pod, constrained []v1.ResourceName) error {
	missing := map[v1.ResourceName]sets.Set[string]{}
	check := func(c *v1.Container) {
		for _, name := range constrained {
			if !mustSpecify.Has(name) {
				continue
			}
			list, r := c.Resources.Requests, name
			switch {
			case strings.HasPrefix(string(name), "limits."):
				list, r = c.Resources.Limits, v1.ResourceName(strings.TrimPrefix(string(name), "limits."))
			case strings.HasPrefix(string(name), "requests."):
				r = v1.ResourceName(strings.TrimPrefix(string(name), "requests."))
			}
			if _, ok := list[r]; !ok {
				if missing[name] == nil {
					missing[name] = sets.New[string]()
				}
				missing[name].Insert(c.Name)
			}
		}
	}
	for i := range pod.Spec.Containers {
		check(&pod.Spec.Containers[i])
	}
	for i := range pod.Spec.InitContainers {
		check(&pod.Spec.InitContainers[i])
	}
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, 0, len(missing))
	for name := range missing {
		names = append(names, string(name))
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s for: %s", name, strings.Join(sets.List(missing[v1.ResourceName(name)]), ",")))
	}
	return fmt.Errorf("must specify %s", strings.Join(parts, "; "))
}

func mask(list v1.ResourceList, names []v1.ResourceName) v1.ResourceList {
	out := v1.ResourceList{}
	for _, n := range names {
		if q, ok := list[n]; ok {
			out[n] = q.DeepCopy()
		}
	}
	return out
}

// pretty prints a ResourceList as upstream does: "a=1,b=2", sorted by name.
func pretty(list v1.ResourceList) string {
	keys := make([]string, 0, len(list))
	for k := range list {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		q := list[v1.ResourceName(k)]
		parts = append(parts, k+"="+q.String())
	}
	return strings.Join(parts, ",")
}
