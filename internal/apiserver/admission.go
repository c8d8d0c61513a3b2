package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-dev/skiff/internal/registry"
)

// The admission chain, in the order kube-apiserver runs its plugins for a write: namespace
// lifecycle, then the kind's own allocation of cluster-unique values (which upstream's service
// storage does before the write), then ResourceQuota. Each step is driven by the registry: the
// namespace resource is the one with a Terminating hook, the quota resource the one with a
// Charge hook, and any resource with an Allocate hook has its values allocated.

// admitNamespace refuses content in a namespace that does not exist or is terminating, as
// upstream's NamespaceLifecycle admission: the refusal names the object being created, with a
// NamespaceTerminating cause.
func (s *Server) admitNamespace(ctx context.Context, sv *served, namespace, name string) error {
	ns := s.roles.namespaces
	if ns == nil {
		return nil
	}
	if err := s.waitConsistent(ctx, ""); err != nil {
		return err
	}
	obj, ok := ns.cache.get("", namespace)
	if !ok {
		return apierrors.NewNotFound(ns.cache.gr, namespace)
	}
	if ns.res.Terminating(obj) {
		err := apierrors.NewForbidden(sv.cache.gr, name,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", namespace))
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type:    corev1.NamespaceTerminatingCause,
			Message: fmt.Sprintf("namespace %s is being terminated", namespace),
			Field:   "metadata.namespace",
		})
		return err
	}
	return nil
}

// allocate runs the resource's allocation for obj (old is nil on create) against what every
// other object of the resource holds. Callers hold allocMu across allocation and the write, and
// have waited for the cache to be consistent.
func (s *Server) allocate(sv *served, obj, old runtime.Object) error {
	m := metaOf(obj)
	var taken registry.Claims
	for _, o := range sv.cache.list("", nil) {
		om := metaOf(o)
		if om.GetNamespace() == m.GetNamespace() && om.GetName() == m.GetName() {
			continue
		}
		taken.Add(sv.res.Claims(o))
	}
	pools := registry.Pools{ServiceCIDR: s.cfg.ServiceCIDR, NodePortMin: s.cfg.NodePortMin, NodePortMax: s.cfg.NodePortMax}
	return sv.res.Allocate(obj, old, taken, pools)
}

// quotaApplies reports whether a create of sv's kind in namespace goes through quota admission:
// the kind is not exempt and the namespace has a quota (the common case has none, and then
// creates need no serialization).
func (s *Server) quotaApplies(sv *served, namespace string) bool {
	q := s.roles.quotas
	return q != nil && sv.res.Namespaced && !sv.res.NoQuota && namespace != "" && len(q.cache.list(namespace, nil)) > 0
}

// admitQuota refuses a create that would exceed a ResourceQuota of its namespace (403
// Forbidden "exceeded quota: ..."), as kube-apiserver's ResourceQuota admission does, and
// otherwise reserves the object's usage in each matching quota's status.used so that creates
// in quick succession are counted before the quota controller recounts. Callers hold quotaMu.
func (s *Server) admitQuota(ctx context.Context, sv *served, namespace, name string, obj runtime.Object) error {
	q := s.roles.quotas
	var charged []string
	for _, o := range q.cache.list(namespace, nil) {
		changed, err := q.res.Charge(o.DeepCopyObject(), obj)
		if err != nil {
			return apierrors.NewForbidden(sv.cache.gr, name, err)
		}
		if changed {
			charged = append(charged, metaOf(o).GetName())
		}
	}
	for _, quota := range charged {
		_, err := s.guaranteedUpdate(ctx, q, namespace, quota, updateOpts{mode: modeRaw, retry: true}, func(cur runtime.Object) (runtime.Object, error) {
			if _, err := q.res.Charge(cur, obj); err != nil {
				return nil, apierrors.NewForbidden(sv.cache.gr, name, err)
			}
			return cur, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// roles are the served resources that admission and bootstrap look for by what they do.
type roles struct {
	namespaces *served // the resource with a Terminating hook
	quotas     *served // the resource with a Charge hook
}

func findRoles(all map[gvr]*served) roles {
	var r roles
	for _, sv := range all {
		if sv.alt != nil {
			continue
		}
		if sv.res.Terminating != nil {
			r.namespaces = sv
		}
		if sv.res.Charge != nil {
			r.quotas = sv
		}
	}
	return r
}

// servedFor returns the storage-version served entry of obj's Go type, or nil.
func (s *Server) servedFor(obj runtime.Object) *served {
	gvks, _, err := s.scheme.ObjectKinds(obj)
	if err != nil {
		return nil
	}
	for _, gvk := range gvks {
		for _, sv := range s.served {
			if sv.alt == nil && sv.gv == gvk.GroupVersion() && sv.res.Kind == gvk.Kind {
				return sv
			}
		}
	}
	return nil
}
