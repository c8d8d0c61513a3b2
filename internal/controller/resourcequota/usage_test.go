package resourcequota

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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

func TestUsage(t *testing.T) {
	tests := []struct {
		name    string
		quota   *v1.ResourceQuota
		objects []runtime.Object
		want    v1.ResourceList
	}{
		{
			name:  "empty namespace reports zero for every tracked hard name",
			quota: quota("q", list("pods", "10", "secrets", "5", "requests.cpu", "2")),
			want:  list("pods", "0", "secrets", "0", "requests.cpu", "0"),
		},
		{
			name:  "names the controller does not track are left out",
			quota: quota("q", list("pods", "10", "count/widgets.example.com", "3")),
			want:  list("pods", "0"),
		},
		{
			name:  "running and pending pods count, terminal and deleting ones do not",
			quota: quota("q", list("pods", "10", "count/pods", "10")),
			objects: []runtime.Object{
				pod("a"), pod("b", phase(v1.PodPending)), pod("c", phase(v1.PodSucceeded)),
				pod("d", phase(v1.PodFailed)), pod("e", deleting),
			},
			want: list("pods", "2", "count/pods", "5"),
		},
		{
			name:  "cpu and memory requests under both names, limits separately",
			quota: quota("q", list("cpu", "4", "requests.cpu", "4", "memory", "1Gi", "requests.memory", "1Gi", "limits.memory", "2Gi")),
			objects: []runtime.Object{
				pod("a", requests("cpu", "250m", "memory", "64Mi"), limits("memory", "128Mi")),
				pod("b", requests("cpu", "500m", "memory", "64Mi")),
				pod("done", requests("cpu", "1", "memory", "1Gi"), phase(v1.PodSucceeded)),
			},
			want: list("cpu", "750m", "requests.cpu", "750m", "memory", "128Mi", "requests.memory", "128Mi", "limits.memory", "128Mi"),
		},
		{
			name:  "object counts per kind",
			quota: quota("q", list("services", "9", "count/services", "9", "configmaps", "9", "count/secrets", "9", "replicationcontrollers", "9")),
			objects: []runtime.Object{
				service("s1", v1.ServiceTypeClusterIP, 1), service("s2", v1.ServiceTypeNodePort, 2),
				&v1.ConfigMap{}, &v1.ConfigMap{}, &v1.Secret{}, &v1.ReplicationController{}, pod("p"),
			},
			want: list("services", "2", "count/services", "2", "configmaps", "2", "count/secrets", "1", "replicationcontrollers", "1"),
		},
		{
			name:    "node ports and load balancers",
			quota:   quota("q", list("services.nodeports", "10", "services.loadbalancers", "2")),
			objects: []runtime.Object{service("np", v1.ServiceTypeNodePort, 2), service("lb", v1.ServiceTypeLoadBalancer, 1), service("c", v1.ServiceTypeClusterIP, 3)},
			want:    list("services.nodeports", "3", "services.loadbalancers", "1"),
		},
		{
			name:    "BestEffort scope counts only pods without requests or limits",
			quota:   quota("q", list("pods", "10"), scoped(v1.ResourceQuotaScopeBestEffort)),
			objects: []runtime.Object{pod("be"), pod("burstable", requests("cpu", "100m")), &v1.ConfigMap{}},
			want:    list("pods", "1"),
		},
		{
			name:    "Terminating scope counts pods with activeDeadlineSeconds",
			quota:   quota("q", list("pods", "10"), scoped(v1.ResourceQuotaScopeTerminating)),
			objects: []runtime.Object{pod("job", deadline), pod("web")},
			want:    list("pods", "1"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Usage(tt.quota, tt.objects)
			if !equality.Semantic.DeepEqual(got, tt.want) {
				t.Errorf("Usage() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	tests := []struct {
		name     string
		quota    *v1.ResourceQuota
		obj      runtime.Object
		used     v1.ResourceList
		wantErr  string
		wantUsed v1.ResourceList
	}{
		{
			name:     "pod within quota is admitted and its usage added",
			quota:    quota("q", list("pods", "2")),
			obj:      pod("p"),
			used:     list("pods", "1"),
			wantUsed: list("pods", "2"),
		},
		{
			name:    "pod over the pod count is refused with upstream's message",
			quota:   quota("compute", list("pods", "2")),
			obj:     pod("p"),
			used:    list("pods", "2"),
			wantErr: "exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2",
		},
		{
			name:    "only the exceeded resources are named",
			quota:   quota("q", list("pods", "10", "requests.cpu", "1", "requests.memory", "1Gi")),
			obj:     pod("p", requests("cpu", "500m", "memory", "100Mi")),
			used:    list("pods", "1", "requests.cpu", "800m", "requests.memory", "0"),
			wantErr: "exceeded quota: q, requested: requests.cpu=500m, used: requests.cpu=800m, limited: requests.cpu=1",
		},
		{
			name:    "several exceeded resources are sorted",
			quota:   quota("q", list("count/pods", "1", "pods", "1")),
			obj:     pod("p"),
			used:    list("count/pods", "1", "pods", "1"),
			wantErr: "exceeded quota: q, requested: count/pods=1,pods=1, used: count/pods=1,pods=1, limited: count/pods=1,pods=1",
		},
		{
			name:    "a quota on cpu requires every container to request cpu",
			quota:   quota("q", list("requests.cpu", "2", "limits.memory", "1Gi")),
			obj:     pod("p"),
			used:    list("requests.cpu", "0", "limits.memory", "0"),
			wantErr: "failed quota: q: must specify limits.memory for: app; requests.cpu for: app",
		},
		{
			name:     "a quota not yet acknowledged by the controller limits nothing",
			quota:    quota("q", list("pods", "0"), func(q *v1.ResourceQuota) { q.Status = v1.ResourceQuotaStatus{} }),
			obj:      pod("p"),
			wantUsed: nil,
		},
		{
			name:    "missing usage for a constrained resource is refused",
			quota:   quota("q", list("pods", "5", "count/pods", "5")),
			obj:     pod("p"),
			used:    list(),
			wantErr: "status unknown for quota: q, resources: count/pods,pods",
		},
		{
			name:     "a secret is not limited by a pod quota",
			quota:    quota("q", list("pods", "0")),
			obj:      &v1.Secret{},
			used:     list("pods", "0"),
			wantUsed: list("pods", "0"),
		},
		{
			name:    "secret count",
			quota:   quota("q", list("secrets", "1")),
			obj:     &v1.Secret{},
			used:    list("secrets", "1"),
			wantErr: "exceeded quota: q, requested: secrets=1, used: secrets=1, limited: secrets=1",
		},
		{
			name:     "scoped quota ignores pods outside its scope",
			quota:    quota("q", list("pods", "0"), scoped(v1.ResourceQuotaScopeNotBestEffort)),
			obj:      pod("be"),
			used:     list("pods", "0"),
			wantUsed: list("pods", "0"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Admit(tt.quota, tt.obj, tt.used)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Admit() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Admit() error = %v", err)
			}
			if !equality.Semantic.DeepEqual(got, tt.wantUsed) {
				t.Errorf("Admit() used = %v, want %v", got, tt.wantUsed)
			}
		})
	}
}
