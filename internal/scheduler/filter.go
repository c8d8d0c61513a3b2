package scheduler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/go-logr/logr"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// Reasons a node is filtered out, worded as kube-scheduler words them so that
// FailedScheduling messages read the same as on Kubernetes.
const (
	reasonUnschedulable = "node(s) were unschedulable"
	reasonNodeAffinity  = "node(s) didn't match Pod's node affinity/selector"
	reasonTooManyPods   = "Too many pods"
)

// Upstream's defaults for containers that request no cpu or memory; used only
// for scoring, so that such pods still spread by load.
const (
	defaultMilliCPURequest = 100
	defaultMemoryRequest   = 200 * 1024 * 1024
)

var nonzeroDefaults = v1.ResourceList{
	v1.ResourceCPU:    *resource.NewMilliQuantity(defaultMilliCPURequest, resource.DecimalSI),
	v1.ResourceMemory: *resource.NewQuantity(defaultMemoryRequest, resource.BinarySI),
}

// resources is a compact, integer form of a ResourceList.
type resources struct {
	milliCPU  int64
	memory    int64
	ephemeral int64
	scalar    map[v1.ResourceName]int64 // extended resources, hugepages; nil when none
}

func toResources(list v1.ResourceList) resources {
	var r resources
	for name, q := range list {
		switch name {
		case v1.ResourceCPU:
			r.milliCPU = q.MilliValue()
		case v1.ResourceMemory:
			r.memory = q.Value()
		case v1.ResourceEphemeralStorage:
			r.ephemeral = q.Value()
		case v1.ResourcePods:
			// counted separately
		default:
			if r.scalar == nil {
				r.scalar = map[v1.ResourceName]int64{}
			}
			r.scalar[name] = q.Value()
		}
	}
	return r
}

func (r *resources) add(o resources, sign int64) {
	r.milliCPU += sign * o.milliCPU
	r.memory += sign * o.memory
	r.ephemeral += sign * o.ephemeral
	for name, v := range o.scalar {
		if r.scalar == nil {
			r.scalar = map[v1.ResourceName]int64{}
		}
		r.scalar[name] += sign * v
	}
}

// podInfo is what scheduling needs of one pod, computed once per attempt.
type podInfo struct {
	pod      *v1.Pod
	requests resources // effective requests (containers, init containers, overhead)
	nonzero  resources // the same with upstream's defaults for unset cpu/memory
	owner    types.UID // UID of the controller ownerReference, "" if none
	affinity nodeaffinity.RequiredNodeAffinity
}

func newPodInfo(pod *v1.Pod) *podInfo {
	p := &podInfo{
		pod:      pod,
		requests: toResources(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})),
		nonzero: toResources(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{
			NonMissingContainerRequests: nonzeroDefaults,
		})),
		affinity: nodeaffinity.GetRequiredNodeAffinity(pod),
	}
	for _, ref := range pod.OwnerReferences {
		if ref.Controller != nil && *ref.Controller {
			p.owner = ref.UID
			break
		}
	}
	return p
}

// nodeInfo is the scheduler's view of one node: the node and what is placed on it.
type nodeInfo struct {
	node        *v1.Node   // nil while pods are known on a node not (or no longer) seen
	taints      []v1.Taint // spec taints plus those implied by the Ready condition
	allocatable resources
	allowedPods int64

	requested resources
	nonzero   resources
	pods      int64
	owners    map[types.UID]int // pods per controller owner
}

func newNodeInfo() *nodeInfo {
	return &nodeInfo{owners: map[types.UID]int{}}
}

// setNode records node and derives the fields filters read.
func (n *nodeInfo) setNode(node *v1.Node) {
	n.node = node
	alloc := node.Status.Allocatable
	if len(alloc) == 0 {
		alloc = node.Status.Capacity
	}
	n.allocatable = toResources(alloc)
	n.allowedPods = alloc.Pods().Value()
	n.taints = effectiveTaints(node)
}

func (n *nodeInfo) addPod(p *placedPod, sign int64) {
	n.requested.add(p.requests, sign)
	n.nonzero.add(p.nonzero, sign)
	n.pods += sign
	if p.owner != "" {
		n.owners[p.owner] += int(sign)
		if n.owners[p.owner] <= 0 {
			delete(n.owners, p.owner)
		}
	}
}

// effectiveTaints returns node's taints plus the not-ready or unreachable taint
// that Kubernetes' node lifecycle controller would add when the node's Ready
// condition is not True, so pods may tolerate them as they do upstream.
func effectiveTaints(node *v1.Node) []v1.Taint {
	key := v1.TaintNodeUnreachable
	for _, c := range node.Status.Conditions {
		if c.Type != v1.NodeReady {
			continue
		}
		switch c.Status {
		case v1.ConditionTrue:
			return node.Spec.Taints
		case v1.ConditionFalse:
			key = v1.TaintNodeNotReady
		}
	}
	for _, t := range node.Spec.Taints {
		if t.Key == key && t.Effect == v1.TaintEffectNoSchedule {
			return node.Spec.Taints
		}
	}
	taints := make([]v1.Taint, 0, len(node.Spec.Taints)+1)
	taints = append(taints, node.Spec.Taints...)
	return append(taints, v1.Taint{Key: key, Effect: v1.TaintEffectNoSchedule})
}

// filter returns the reasons pod cannot be placed on n, in kube-scheduler's
// words; none means it fits. As upstream, the first failing check decides.
func filter(p *podInfo, n *nodeInfo) []string {
	if n.node.Spec.Unschedulable && !tolerates(p.pod.Spec.Tolerations, &v1.Taint{
		Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule,
	}) {
		return []string{reasonUnschedulable}
	}
	for i := range n.taints {
		t := &n.taints[i]
		if t.Effect != v1.TaintEffectNoSchedule && t.Effect != v1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(p.pod.Spec.Tolerations, t) {
			return []string{fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)}
		}
	}
	if ok, err := p.affinity.Match(n.node); !ok || err != nil {
		return []string{reasonNodeAffinity}
	}
	return insufficient(p, n)
}

func tolerates(tolerations []v1.Toleration, taint *v1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(logr.Discard(), taint, true) {
			return true
		}
	}
	return false
}

// insufficient lists the resources n lacks for p; a resource the pod does not
// request is not checked, as upstream's NodeResourcesFit does.
func insufficient(p *podInfo, n *nodeInfo) []string {
	var reasons []string
	if n.pods+1 > n.allowedPods {
		reasons = append(reasons, reasonTooManyPods)
	}
	req, used, alloc := p.requests, n.requested, n.allocatable
	if req.milliCPU > 0 && req.milliCPU > alloc.milliCPU-used.milliCPU {
		reasons = append(reasons, "Insufficient cpu")
	}
	if req.memory > 0 && req.memory > alloc.memory-used.memory {
		reasons = append(reasons, "Insufficient memory")
	}
	if req.ephemeral > 0 && req.ephemeral > alloc.ephemeral-used.ephemeral {
		reasons = append(reasons, "Insufficient ephemeral-storage")
	}
	for name, v := range req.scalar {
		if v > 0 && v > alloc.scalar[name]-used.scalar[name] {
			reasons = append(reasons, "Insufficient "+string(name))
		}
	}
	return reasons
}

// FitError says why a pod fits no node, formatted as kube-scheduler does:
// "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable."
type FitError struct {
	NumAllNodes int
	Reasons     map[string]int // reason → number of nodes that gave it
}

func (e *FitError) Error() string {
	if e.NumAllNodes == 0 {
		return "no nodes available to schedule pods"
	}
	parts := make([]string, 0, len(e.Reasons))
	for reason, n := range e.Reasons {
		parts = append(parts, fmt.Sprintf("%d %s", n, reason))
	}
	sort.Strings(parts)
	msg := fmt.Sprintf("0/%d nodes are available:", e.NumAllNodes)
	if len(parts) > 0 {
		msg += " " + strings.Join(parts, ", ")
	}
	return msg + "."
}
