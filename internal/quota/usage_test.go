package quota

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
)

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
