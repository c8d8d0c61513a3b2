package scheduler

// score ranks one feasible node for one pod. Nodes holding fewer pods of the
// pod's owner win (spreading a ReplicaSet across nodes); among those, the node
// with the most free cpu and memory wins (upstream's LeastAllocated).
type score struct {
	sameOwner int   // pods of the same controller owner already on the node
	free      int64 // 0..100, higher is emptier
}

func (s score) betterThan(o score) bool {
	if s.sameOwner != o.sameOwner {
		return s.sameOwner < o.sameOwner
	}
	return s.free > o.free
}

func scoreNode(p *podInfo, n *nodeInfo) score {
	s := score{free: leastRequested(p, n)}
	if p.owner != "" {
		s.sameOwner = n.owners[p.owner]
	}
	return s
}

// leastRequested averages, over cpu and memory, the share of allocatable left
// free once p is placed, counting unset requests at upstream's defaults.
func leastRequested(p *podInfo, n *nodeInfo) int64 {
	cpu := freeShare(n.allocatable.milliCPU, n.nonzero.milliCPU+p.nonzero.milliCPU)
	mem := freeShare(n.allocatable.memory, n.nonzero.memory+p.nonzero.memory)
	return (cpu + mem) / 2
}

func freeShare(capacity, requested int64) int64 {
	if capacity <= 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * 100 / capacity
}

// selectNode filters and scores nodes for p and returns the best, or a
// FitError counting why each node was refused. Ties go to the first node in
// the order given; the caller rotates that order so ties spread.
func selectNode(p *podInfo, nodes []*nodeInfo, start int) (*nodeInfo, *FitError) {
	var (
		best      *nodeInfo
		bestScore score
		reasons   map[string]int
	)
	for i := range nodes {
		n := nodes[(start+i)%len(nodes)]
		if why := filter(p, n); len(why) > 0 {
			if reasons == nil {
				reasons = map[string]int{}
			}
			for _, r := range why {
				reasons[r]++
			}
			continue
		}
		if s := scoreNode(p, n); best == nil || s.betterThan(bestScore) {
			best, bestScore = n, s
		}
	}
	if best == nil {
		return nil, &FitError{NumAllNodes: len(nodes), Reasons: reasons}
	}
	return best, nil
}
