package endpoints

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// errStaleCache asks for a retry: the informer has not yet seen this controller's own writes.
var errStaleCache = errors.New("endpoints: slice cache is behind this controller's writes")

// skipMirrorLabel on an Endpoints object keeps it out of EndpointSlice mirroring.
const skipMirrorLabel = "endpointslice.kubernetes.io/skip-mirror"

// sync brings the Endpoints and EndpointSlices of the Service key in line with it: a ladder of
// cases, one per kind of Service.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key we queue; nothing to retry
	}
	svc, err := c.services.Services(ns).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		return c.cleanup(ctx, key, ns, name)
	case err != nil:
		return fmt.Errorf("get service %s: %w", key, err)
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		// An ExternalName Service is a DNS alias: it has no endpoints of its own.
		return c.syncSlices(ctx, svc, ManagedBy, nil, false, time.Time{})
	case len(svc.Spec.Selector) == 0:
		return c.mirror(ctx, svc)
	}

	pods, err := c.pods.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return fmt.Errorf("list pods of service %s: %w", key, err)
	}
	// Computed on every sync, written or not, so that the next change is measured from now.
	trigger := c.triggers.compute(key, svc, pods)
	// Slices first: the service proxies read them.
	errSlices := c.syncSlices(ctx, svc, ManagedBy, podGroups(svc, pods), true, trigger)
	errEndpoints := c.syncEndpoints(ctx, svc, desiredSubsets(svc, pods), trigger)
	return errors.Join(errSlices, errEndpoints)
}

// cleanup removes the Endpoints and managed slices of a Service that no longer exists.
func (c *Controller) cleanup(ctx context.Context, key, ns, name string) error {
	c.triggers.forget(key)
	var errs []error
	if _, err := c.endpoints.Endpoints(ns).Get(name); err == nil {
		err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete endpoints %s: %w", key, err))
		} else {
			c.log.Debug("deleted endpoints of deleted service", "service", key)
		}
	}
	for _, s := range c.slicesOf(ns, name) {
		if !managed(s) {
			continue
		}
		if err := c.deleteSlice(ctx, s); err != nil {
			errs = append(errs, err)
		}
		// No sync of the old Service will ask whether the cache saw these deletes.
		for _, o := range s.OwnerReferences {
			c.written.forget(o.UID)
		}
	}
	return errors.Join(errs...)
}

// mirror keeps the slices of a Service without a selector in line with its Endpoints, which
// someone else writes.
func (c *Controller) mirror(ctx context.Context, svc *corev1.Service) error {
	var groups []sliceGroup
	var trigger time.Time
	ep, err := c.endpoints.Endpoints(svc.Namespace).Get(svc.Name)
	if err == nil && ep.Labels[skipMirrorLabel] != "true" {
		groups = endpointsGroups(ep)
		if v := ep.Annotations[corev1.EndpointsLastChangeTriggerTime]; v != "" {
			trigger, _ = time.Parse(time.RFC3339Nano, v)
		}
	}
	return c.syncSlices(ctx, svc, MirrorManagedBy, groups, false, trigger)
}

// syncEndpoints writes the Service's Endpoints if they differ from subsets.
func (c *Controller) syncEndpoints(ctx context.Context, svc *corev1.Service, subsets []corev1.EndpointSubset, trigger time.Time) error {
	key := svc.Namespace + "/" + svc.Name
	cur, err := c.endpoints.Endpoints(svc.Namespace).Get(svc.Name)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("get endpoints %s: %w", key, err)
	}
	if cur != nil && endpointsUpToDate(cur, svc, subsets) {
		return nil
	}
	next := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace}}
	if cur != nil {
		next = cur.DeepCopy()
	}
	next.Labels = endpointsLabels(svc)
	next.Subsets = subsets
	setTrigger(&next.ObjectMeta, trigger)

	if cur == nil {
		_, err = c.client.CoreV1().Endpoints(svc.Namespace).Create(ctx, next, metav1.CreateOptions{})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil // the namespace is going away and takes the Service with it
			}
			return fmt.Errorf("create endpoints %s: %w", key, err)
		}
	} else if _, err = c.client.CoreV1().Endpoints(svc.Namespace).Update(ctx, next, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update endpoints %s: %w", key, err)
	}
	c.log.Debug("wrote endpoints", "service", key, "ready", countAddresses(subsets, true), "not_ready", countAddresses(subsets, false))
	return nil
}

// syncSlices makes the Service's slices managed by managedBy hold groups, and deletes the slices
// the other manager of this package left for it (a Service that gained or lost its selector).
func (c *Controller) syncSlices(ctx context.Context, svc *corev1.Service, managedBy string, groups []sliceGroup, placeholder bool, trigger time.Time) error {
	all := c.slicesOf(svc.Namespace, svc.Name)
	if c.written.stale(svc.UID, all) {
		return errStaleCache
	}
	var mine, foreign []*discoveryv1.EndpointSlice
	for _, s := range all {
		switch m := s.Labels[discoveryv1.LabelManagedBy]; {
		case m == managedBy:
			mine = append(mine, s)
		case m == ManagedBy || m == MirrorManagedBy:
			foreign = append(foreign, s)
		}
	}
	plan := planSlices(sliceSpec{svc: svc, managedBy: managedBy, max: c.opts.MaxEndpointsPerSlice, placeholder: placeholder, trigger: trigger}, groups, mine)
	plan.delete = append(plan.delete, foreign...)
	if plan.empty() {
		return nil
	}
	return c.apply(ctx, svc, plan)
}

// apply writes a slice plan: creates, then updates, then deletes, so that an endpoint moving
// between slices is never absent from all of them.
func (c *Controller) apply(ctx context.Context, svc *corev1.Service, plan slicePlan) error {
	api := c.client.DiscoveryV1().EndpointSlices(svc.Namespace)
	key := svc.Namespace + "/" + svc.Name
	for _, s := range plan.create {
		got, err := api.Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			return fmt.Errorf("create endpointslice for %s: %w", key, err)
		}
		c.written.record(svc.UID, got.Name, got.Generation)
	}
	for _, s := range plan.update {
		got, err := api.Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update endpointslice %s/%s: %w", s.Namespace, s.Name, err)
		}
		c.written.record(svc.UID, got.Name, got.Generation)
	}
	var errs []error
	for _, s := range plan.delete {
		if err := c.deleteSlice(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	c.log.Debug("wrote endpointslices", "service", key, "created", len(plan.create), "updated", len(plan.update), "deleted", len(plan.delete))
	return errors.Join(errs...)
}

func (c *Controller) deleteSlice(ctx context.Context, s *discoveryv1.EndpointSlice) error {
	err := c.client.DiscoveryV1().EndpointSlices(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &s.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete endpointslice %s/%s: %w", s.Namespace, s.Name, err)
	}
	for _, o := range s.OwnerReferences {
		c.written.record(o.UID, s.Name, sliceDeleted)
	}
	return nil
}

func countAddresses(subsets []corev1.EndpointSubset, ready bool) int {
	n := 0
	for _, ss := range subsets {
		if ready {
			n += len(ss.Addresses)
		} else {
			n += len(ss.NotReadyAddresses)
		}
	}
	return n
}
