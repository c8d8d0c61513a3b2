package scheduler

import (
	"sort"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// placedPod is a pod the cache charges to a node: either seen bound through
// the informer, or assumed — bound by us, not yet seen back.
type placedPod struct {
	node     string
	requests resources
	nonzero  resources
	owner    types.UID
	assumed  bool
}

// nodeCache holds every node and the pods placed on it, so that choosing a
// node costs O(nodes) and never lists pods. Informer handlers feed it; the
// scheduling workers read it and assume pods into it under the same lock, so
// two workers never both spend the same free capacity.
type nodeCache struct {
	mu    sync.Mutex // guards the fields below
	nodes map[string]*nodeInfo
	order []*nodeInfo // nodes with a Node object, sorted by name
	pods  map[types.UID]*placedPod
	next  int // rotates where selectNode starts, to spread ties
}

func newNodeCache() *nodeCache {
	return &nodeCache{nodes: map[string]*nodeInfo{}, pods: map[types.UID]*placedPod{}}
}

// setNode adds or updates node.
func (c *nodeCache) setNode(node *v1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[node.Name]
	if !ok {
		n = newNodeInfo()
		c.nodes[node.Name] = n
	}
	known := n.node != nil
	n.setNode(node)
	if !known {
		c.rebuildOrder()
	}
}

// removeNode forgets node; pods still charged to it keep a placeholder.
func (c *nodeCache) removeNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	if !ok {
		return
	}
	if n.pods == 0 {
		delete(c.nodes, name)
	} else {
		n.node = nil
	}
	c.rebuildOrder()
}

func (c *nodeCache) rebuildOrder() {
	c.order = c.order[:0]
	for _, n := range c.nodes {
		if n.node != nil {
			c.order = append(c.order, n)
		}
	}
	sort.Slice(c.order, func(i, j int) bool { return c.order[i].node.Name < c.order[j].node.Name })
}

// observePod records a pod the informer shows bound to a node; it confirms
// an assumption or moves the charge if the pod landed elsewhere.
func (c *nodeCache) observePod(pod *v1.Pod) {
	c.mu.Lock()
	old, ok := c.pods[pod.UID]
	c.mu.Unlock()
	if ok && old.node == pod.Spec.NodeName && !old.assumed {
		return // already charged; requests of a bound pod do not change here
	}
	p := newPodInfo(pod)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.pods[pod.UID]; ok {
		c.unplaceLocked(pod.UID, old)
	}
	c.placeLocked(pod.UID, &placedPod{
		node: pod.Spec.NodeName, requests: p.requests, nonzero: p.nonzero, owner: p.owner,
	})
}

// removePod releases what pod uid held; it reports whether it held anything.
func (c *nodeCache) removePod(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.pods[uid]
	if ok {
		c.unplaceLocked(uid, old)
	}
	return ok
}

// placed reports whether the cache charges pod uid to some node, bound or assumed.
func (c *nodeCache) placed(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pods[uid]
	return ok
}

// assume chooses a node for p and charges p to it before the binding is
// written, so the next decision already sees the capacity taken.
func (c *nodeCache) assume(p *podInfo) (string, *FitError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.order) == 0 {
		return "", &FitError{}
	}
	start := c.next % len(c.order)
	c.next++
	n, fitErr := selectNode(p, c.order, start)
	if fitErr != nil {
		return "", fitErr
	}
	c.placeLocked(p.pod.UID, &placedPod{
		node: n.node.Name, requests: p.requests, nonzero: p.nonzero, owner: p.owner, assumed: true,
	})
	return n.node.Name, nil
}

// forget drops an assumption whose binding failed.
func (c *nodeCache) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.pods[uid]; ok && old.assumed {
		c.unplaceLocked(uid, old)
	}
}

func (c *nodeCache) placeLocked(uid types.UID, p *placedPod) {
	n, ok := c.nodes[p.node]
	if !ok {
		n = newNodeInfo()
		c.nodes[p.node] = n
	}
	n.addPod(p, 1)
	c.pods[uid] = p
}

func (c *nodeCache) unplaceLocked(uid types.UID, p *placedPod) {
	delete(c.pods, uid)
	n, ok := c.nodes[p.node]
	if !ok {
		return
	}
	n.addPod(p, -1)
	if n.node == nil && n.pods == 0 {
		delete(c.nodes, p.node)
	}
}
