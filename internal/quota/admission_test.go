package quota

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
)

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
