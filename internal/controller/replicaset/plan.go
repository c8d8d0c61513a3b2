package replicaset

import (
	"sort"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
)

const (
	// BurstReplicas caps the pods created or deleted by one sync, as
	// upstream's --replicaset-burst... default does (500).
	BurstReplicas = 500
	// slowStartInitialBatch is the size of the first batch of creations.
	slowStartInitialBatch = 1
)

// replicaDelta returns how many pods one sync creates (positive) or deletes
// (negative) to move from active pods towards desired, at most burst either way.
func replicaDelta(active int, desired int32, burst int) int {
	diff := int(desired) - active
	return max(-burst, min(diff, burst))
}

// slowStartBatch calls fn count times, in batches of 1, 2, 4, ... run in
// parallel, and stops after the first batch with a failure, so that a
// template that cannot be created (a quota, an admission error) costs one
// request rather than hundreds. It returns how many calls succeeded and the
// first error.
func slowStartBatch(count, initialBatch int, fn func() error) (int, error) {
	remaining := count
	successes := 0
	for batch := min(remaining, initialBatch); batch > 0; batch = min(2*batch, remaining) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Go(func() {
				if err := fn(); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		successes += batch - len(errs)
		if len(errs) > 0 {
			return successes, <-errs
		}
		remaining -= batch
	}
	return successes, nil
}

// podsToDelete picks n of the active pods to delete, first in deletion order.
// related are the pods of every ReplicaSet with the same controller (the
// ReplicaSets of one Deployment): a pod sharing its node with more of them
// goes first, to keep a Deployment spread across nodes.
func podsToDelete(active, related []*v1.Pod, n int, now time.Time) []*v1.Pod {
	if n >= len(active) {
		return active
	}
	perNode := make(map[string]int)
	for _, p := range related {
		if isActive(p) {
			perNode[p.Spec.NodeName]++
		}
	}
	order := deletionOrder{pods: append([]*v1.Pod(nil), active...), rank: make([]int, len(active)), now: now}
	for i, p := range order.pods {
		order.rank[i] = perNode[p.Spec.NodeName]
	}
	sort.Sort(order)
	return order.pods[:n]
}
