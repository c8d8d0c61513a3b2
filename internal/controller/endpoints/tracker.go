package endpoints

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// triggerTracker computes the endpoints.kubernetes.io/last-change-trigger-time of a Service's
// endpoints, as upstream's TriggerTimeTracker does: the earliest of the pod and Service changes
// seen since the Service's previous sync, or the Service's creation on its first sync. A pod's
// change time is its Ready condition's last transition or its deletion request (podTriggerTime);
// a Service's is its creation.
type triggerTracker struct {
	mu    sync.Mutex // guards state
	state map[string]triggerState
}

type triggerState struct {
	service time.Time
	pods    map[string]time.Time
}

func newTriggerTracker() *triggerTracker { return &triggerTracker{state: map[string]triggerState{}} }

// compute returns the trigger time for the Service key given its current pods and records them.
// It must not be called concurrently for the same key (the work queue sees to that).
func (t *triggerTracker) compute(key string, svc *corev1.Service, pods []*corev1.Pod) time.Time {
	t.mu.Lock()
	prev, known := t.state[key]
	t.mu.Unlock()

	var earliest time.Time
	consider := func(at time.Time) {
		if earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	}
	next := triggerState{service: svc.CreationTimestamp.Time, pods: make(map[string]time.Time, len(pods))}
	for _, pod := range pods {
		at := podTriggerTime(pod)
		if at.IsZero() {
			continue
		}
		next.pods[pod.Name] = at
		if at.After(prev.pods[pod.Name]) {
			consider(at)
		}
	}
	if next.service.After(prev.service) {
		consider(next.service)
	}

	t.mu.Lock()
	t.state[key] = next
	t.mu.Unlock()
	if !known {
		return svc.CreationTimestamp.Time
	}
	return earliest
}

func (t *triggerTracker) forget(key string) {
	t.mu.Lock()
	delete(t.state, key)
	t.mu.Unlock()
}

// sliceTracker remembers the slices this controller wrote, per Service, so that a sync can tell
// when the informer cache has not yet caught up with its own writes (and would otherwise create a
// duplicate slice or write over a newer one).
type sliceTracker struct {
	mu      sync.Mutex                     // guards written
	written map[types.UID]map[string]int64 // Service UID -> slice name -> generation written; deleted: -1
}

func newSliceTracker() *sliceTracker {
	return &sliceTracker{written: map[types.UID]map[string]int64{}}
}

const sliceDeleted = -1

// record notes a slice this controller created or updated (with the generation the API server
// returned) or deleted.
func (t *sliceTracker) record(svc types.UID, name string, generation int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.written[svc]
	if m == nil {
		m = map[string]int64{}
		t.written[svc] = m
	}
	m[name] = generation
}

// stale reports whether cached (the Service's slices as the informer has them) misses any write
// recorded for the Service; writes the cache has caught up with are forgotten.
func (t *sliceTracker) stale(svc types.UID, cached []*discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.written[svc]
	if len(m) == 0 {
		return false
	}
	byName := make(map[string]*discoveryv1.EndpointSlice, len(cached))
	for _, s := range cached {
		byName[s.Name] = s
	}
	stale := false
	for name, gen := range m {
		s, ok := byName[name]
		switch {
		case gen == sliceDeleted && ok, gen != sliceDeleted && (!ok || s.Generation < gen):
			stale = true
		default:
			delete(m, name)
		}
	}
	if len(m) == 0 {
		delete(t.written, svc)
	}
	return stale
}

func (t *sliceTracker) forget(svc types.UID) {
	t.mu.Lock()
	delete(t.written, svc)
	t.mu.Unlock()
}

// observeDeleted forgets what was recorded for a slice the informer saw deleted, whoever deleted
// it: a slice removed behind this controller's back must not keep the Service stale forever.
func (t *sliceTracker) observeDeleted(svc types.UID, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m := t.written[svc]; m != nil {
		delete(m, name)
		if len(m) == 0 {
			delete(t.written, svc)
		}
	}
}
