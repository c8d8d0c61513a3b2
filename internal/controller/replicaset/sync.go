package replicaset

import (
	"context"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-dev/skiff/internal/controller/controllerref"
	"github.com/skiff-dev/skiff/internal/controller/podcontrol"
)

// sync brings the object with key towards its desired replicas by one step
// and writes its status. It reads everything from the informer caches.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.log.Error("invalid key", "key", key, "err", err)
		return nil
	}
	rs, err := c.kind.store.get(namespace, name)
	if apierrors.IsNotFound(err) {
		c.expectations.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}

	needsManage := c.expectations.Satisfied(key)
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		// Not retried: nothing changes until the object does.
		c.log.Error("invalid selector", "key", key, "err", err)
		return nil
	}

	// Our pods and the namespace's orphans: everything we may own, adopt or
	// have to release. Pods owned by others are none of our business.
	candidates, err := podcontrol.Candidates(c.podIndexer, rs.Namespace, rs.UID)
	if err != nil {
		return err
	}
	sorted := sortCandidates(rs, matcher(rs.Spec.Selector, selector), candidates)
	claimed, err := c.claimPods(ctx, rs, selector, sorted.unclaimed)
	if err != nil {
		return err
	}
	active := append(sorted.active, claimed...)
	var terminating []*v1.Pod
	if c.kind.reportTerminating {
		terminating = sorted.terminating
	}

	var manageErr error
	if needsManage && rs.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, key, rs, active)
	}

	now := c.clock.Now()
	rs = rs.DeepCopy()
	status := calculateStatus(rs, active, terminating, manageErr, c.kind.reportTerminating, now)
	updated, err := c.updateStatus(ctx, rs, status)
	if err != nil {
		return err
	}
	if manageErr != nil {
		return manageErr
	}
	// Pods that are ready but not yet available will become available
	// without any event saying so: look again when the first one does.
	if after, ok := nextAvailable(updated.Spec.MinReadySeconds, active, now); ok {
		c.loop.AddAfter(key, after)
	}
	return nil
}

// claimPods adopts matching orphans and releases pods that stopped matching,
// and returns those of pods that rs controls now.
func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, selector labels.Selector, pods []*v1.Pod) ([]*v1.Pod, error) {
	claimer := &controllerref.Claimer[*v1.Pod]{
		Owner:    rs,
		Kind:     c.kind.gvk,
		Selector: selector,
		Patch: func(ctx context.Context, p *v1.Pod, patch []byte) error {
			return c.podControl.Patch(ctx, p.Namespace, p.Name, patch)
		},
		CanAdopt: controllerref.RecheckDeletion(func(ctx context.Context) (metav1.Object, error) {
			fresh, err := c.kind.store.fetch(ctx, rs.Namespace, rs.Name)
			if err != nil {
				return nil, err
			}
			if fresh.UID != rs.UID {
				return nil, fmt.Errorf("original %s %s/%s is gone: got uid %v, wanted %v", c.kind.gvk.Kind, rs.Namespace, rs.Name, fresh.UID, rs.UID)
			}
			return fresh, nil
		}),
	}
	return claimer.Claim(ctx, pods)
}

// manageReplicas creates or deletes pods to move active towards
// spec.replicas, at most c.burst of them.
func (c *Controller) manageReplicas(ctx context.Context, key string, rs *appsv1.ReplicaSet, active []*v1.Pod) error {
	delta := replicaDelta(len(active), wantReplicas(rs), c.burst)
	switch {
	case delta > 0:
		return c.createPods(ctx, key, rs, delta)
	case delta < 0:
		return c.deletePods(ctx, key, rs, active, -delta)
	}
	return nil
}

func (c *Controller) createPods(ctx context.Context, key string, rs *appsv1.ReplicaSet, n int) error {
	// Expect the creations before making them: the informer may report a
	// new pod before Create returns.
	c.expectations.ExpectCreations(key, n)
	c.log.Debug("too few replicas", "key", key, "need", wantReplicas(rs), "creating", n)
	owner := c.kind.ref(rs)
	ref := metav1.NewControllerRef(rs, c.kind.gvk)
	created, err := slowStartBatch(n, slowStartInitialBatch, func() error {
		err := c.podControl.Create(ctx, rs.Namespace, &rs.Spec.Template, owner, ref)
		if apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause) {
			return nil // every create will fail; the namespace is going away
		}
		return err
	})
	// Pods never created will never be observed.
	if skipped := n - created; skipped > 0 {
		c.log.Debug("slow-start failure, skipping pod creations", "key", key, "skipped", skipped)
		for range skipped {
			c.expectations.CreationObserved(key)
		}
	}
	return err
}

func (c *Controller) deletePods(ctx context.Context, key string, rs *appsv1.ReplicaSet, active []*v1.Pod, n int) error {
	c.log.Debug("too many replicas", "key", key, "need", wantReplicas(rs), "deleting", n)
	victims := podsToDelete(active, c.relatedPods(rs), n, c.clock.Now())

	keys := make([]string, len(victims))
	for i, p := range victims {
		keys[i] = podKey(p)
	}
	c.expectations.ExpectDeletions(key, keys)

	owner := c.kind.ref(rs)
	errs := make(chan error, len(victims))
	var wg sync.WaitGroup
	for _, p := range victims {
		wg.Go(func() {
			if err := c.podControl.Delete(ctx, rs.Namespace, p.Name, owner); err != nil {
				// The informer will not report a deletion that did not happen.
				c.expectations.DeletionObserved(key, podKey(p))
				if !apierrors.IsNotFound(err) {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// relatedPods returns the pods of every object with the same controller as
// rs (rs's siblings under one Deployment), each pod once.
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet) []*v1.Pod {
	var related []*v1.Pod
	seen := make(map[string]bool)
	for _, sib := range c.kind.siblings(rs) {
		sel, err := metav1.LabelSelectorAsSelector(sib.Spec.Selector)
		if err != nil {
			continue
		}
		pods, err := c.pods.Pods(sib.Namespace).List(sel)
		if err != nil {
			continue
		}
		for _, p := range pods {
			if !seen[string(p.UID)] {
				seen[string(p.UID)] = true
				related = append(related, p)
			}
		}
	}
	return related
}
