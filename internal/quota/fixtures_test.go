package quota

import (
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func list(kv ...string) v1.ResourceList {
	out := v1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[v1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func quota(name string, hard v1.ResourceList, opts ...func(*v1.ResourceQuota)) *v1.ResourceQuota {
	q := &v1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec:       v1.ResourceQuotaSpec{Hard: hard},
		Status:     v1.ResourceQuotaStatus{Hard: hard},
	}
	for _, o := range opts {
		o(q)
	}
	return q
}

func scoped(scopes ...v1.ResourceQuotaScope) func(*v1.ResourceQuota) {
	return func(q *v1.ResourceQuota) { q.Spec.Scopes = scopes }
}

func pod(name string, opts ...func(*v1.Pod)) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "app", Image: "nginx"}}},
		Status:     v1.PodStatus{Phase: v1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func requests(kv ...string) func(*v1.Pod) {
	return func(p *v1.Pod) { p.Spec.Containers[0].Resources.Requests = list(kv...) }
}

func limits(kv ...string) func(*v1.Pod) {
	return func(p *v1.Pod) { p.Spec.Containers[0].Resources.Limits = list(kv...) }
}

func phase(ph v1.PodPhase) func(*v1.Pod) { return func(p *v1.Pod) { p.Status.Phase = ph } }

func deleting(p *v1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Now()} }

func deadline(p *v1.Pod) {
	s := int64(30)
	p.Spec.ActiveDeadlineSeconds = &s
}

func service(name string, typ v1.ServiceType, ports int) *v1.Service {
	s := &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: v1.ServiceSpec{Type: typ}}
	for i := range ports {
		s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Port: int32(80 + i)})
	}
	return s
}
