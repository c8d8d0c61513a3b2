package apiserver

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-dev/skiff/internal/quota"
)

// admitQuota refuses a create that would exceed a ResourceQuota of its namespace (403
// Forbidden "exceeded quota: ..."), as kube-apiserver's ResourceQuota admission does, and
// otherwise reserves the object's usage in each matching quota's status.used so that creates
// in quick succession are counted before the quota controller recounts. Callers hold quotaMu.
func (s *Server) admitQuota(ctx context.Context, sv *served, namespace, name string, obj runtime.Object) error {
	qc := s.caches.byGR["resourcequotas"]
	if qc == nil || namespace == "" {
		return nil
	}
	quotas := qc.list(namespace, nil)
	if len(quotas) == 0 {
		return nil
	}
	type reservation struct {
		name string
		used corev1.ResourceList
	}
	var reserve []reservation
	for _, o := range quotas {
		q := o.(*corev1.ResourceQuota)
		used, err := quota.Admit(q, obj, q.Status.Used)
		if err != nil {
			return apierrors.NewForbidden(sv.cache.gr, name, err)
		}
		if !equality.Semantic.DeepEqual(used, q.Status.Used) {
			reserve = append(reserve, reservation{q.Name, used})
		}
	}
	qsv := s.servedStorage("resourcequotas")
	for _, r := range reserve {
		_, err := s.guaranteedUpdate(ctx, qsv, namespace, r.name, updateOpts{mode: modeRaw, retry: true}, func(cur runtime.Object) (runtime.Object, error) {
			q := cur.(*corev1.ResourceQuota)
			q.Status.Used = r.used
			return q, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// hasQuota reports whether namespace has any ResourceQuota (the common case has none, and then
// creates need no serialization).
func (s *Server) hasQuota(namespace string) bool {
	qc := s.caches.byGR["resourcequotas"]
	return qc != nil && len(qc.list(namespace, nil)) > 0
}
