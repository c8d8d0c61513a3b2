package fake

import (
	"net/netip"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func at(sec int64) metav1.Time { return metav1.NewTime(time.Unix(1_700_000_000+sec, 0)) }

func TestRunningStatus(t *testing.T) {
	always := v1.ContainerRestartPolicyAlways
	tests := []struct {
		name  string
		pod   *v1.Pod
		check func(t *testing.T, s v1.PodStatus)
	}{
		{
			name: "single container runs, is ready and carries fake ids",
			pod: &v1.Pod{
				ObjectMeta: metav1.ObjectMeta{UID: "u1"},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "web", Image: "nginx:1.27"}}},
			},
			check: func(t *testing.T, s v1.PodStatus) {
				if s.Phase != v1.PodRunning || s.PodIP != "127.1.0.1" || s.HostIP != "127.0.0.2" || !s.StartTime.Equal(ptr(at(5))) {
					t.Errorf("phase %s podIP %s hostIP %s start %v", s.Phase, s.PodIP, s.HostIP, s.StartTime)
				}
				if len(s.PodIPs) != 1 || len(s.HostIPs) != 1 {
					t.Errorf("podIPs %v hostIPs %v", s.PodIPs, s.HostIPs)
				}
				var types []v1.PodConditionType
				for _, c := range s.Conditions {
					if c.Status != v1.ConditionTrue || !c.LastTransitionTime.Equal(ptr(at(5))) {
						t.Errorf("condition %+v", c)
					}
					types = append(types, c.Type)
				}
				want := []v1.PodConditionType{v1.PodReadyToStartContainers, v1.PodInitialized, v1.PodReady, v1.ContainersReady, v1.PodScheduled}
				if len(types) != len(want) {
					t.Fatalf("conditions %v, want %v", types, want)
				}
				cs := s.ContainerStatuses[0]
				if cs.Name != "web" || !cs.Ready || cs.Started == nil || !*cs.Started || cs.RestartCount != 0 ||
					cs.State.Running == nil || cs.ContainerID != "fake://u1/web" || cs.Image != "nginx:1.27" ||
					len(cs.ImageID) != len("nginx:1.27@sha256:")+64 {
					t.Errorf("container status %+v", cs)
				}
			},
		},
		{
			name: "init container completed, sidecar running",
			pod: &v1.Pod{
				ObjectMeta: metav1.ObjectMeta{UID: "u2"},
				Spec: v1.PodSpec{
					InitContainers: []v1.Container{{Name: "setup", Image: "busybox"}, {Name: "proxy", Image: "envoy", RestartPolicy: &always}},
					Containers:     []v1.Container{{Name: "app", Image: "app"}},
				},
			},
			check: func(t *testing.T, s v1.PodStatus) {
				if len(s.InitContainerStatuses) != 2 {
					t.Fatalf("init statuses %+v", s.InitContainerStatuses)
				}
				if term := s.InitContainerStatuses[0].State.Terminated; term == nil || term.Reason != "Completed" || term.ExitCode != 0 {
					t.Errorf("init container state %+v", s.InitContainerStatuses[0].State)
				}
				if s.InitContainerStatuses[1].State.Running == nil || !s.InitContainerStatuses[1].Ready {
					t.Errorf("sidecar state %+v", s.InitContainerStatuses[1])
				}
			},
		},
		{
			name: "scheduled condition and start time already set are kept",
			pod: &v1.Pod{
				Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "i"}}},
				Status: v1.PodStatus{
					Phase:      v1.PodPending,
					StartTime:  ptr(at(1)),
					Conditions: []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionTrue, LastTransitionTime: at(0)}},
				},
			},
			check: func(t *testing.T, s v1.PodStatus) {
				if !s.StartTime.Equal(ptr(at(1))) {
					t.Errorf("start time %v", s.StartTime)
				}
				for _, c := range s.Conditions {
					if c.Type == v1.PodScheduled && !c.LastTransitionTime.Equal(ptr(at(0))) {
						t.Errorf("PodScheduled moved to %v", c.LastTransitionTime)
					}
				}
				if len(s.Conditions) != 5 {
					t.Errorf("conditions %+v", s.Conditions)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := runningStatus(tt.pod, "127.1.0.1", "127.0.0.2", at(5))
			tt.check(t, s)
			pod := tt.pod.DeepCopy()
			pod.Status = s
			if !isRunning(pod) {
				t.Error("isRunning is false for the status just written")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestNodeConditions(t *testing.T) {
	first := nodeConditions(nil, at(1))
	if len(first) != 4 || first[3].Type != v1.NodeReady || first[3].Status != v1.ConditionTrue ||
		first[3].Reason != "KubeletReady" || first[3].Message != "kubelet is posting ready status" {
		t.Fatalf("conditions %+v", first)
	}
	first[0].Status = v1.ConditionTrue // memory pressure came and goes again
	second := nodeConditions(first, at(2))
	for _, c := range second {
		if !c.LastHeartbeatTime.Equal(ptr(at(2))) {
			t.Errorf("%s heartbeat %v", c.Type, c.LastHeartbeatTime)
		}
		want := at(1)
		if c.Type == v1.NodeMemoryPressure {
			want = at(2)
		}
		if !c.LastTransitionTime.Equal(&want) {
			t.Errorf("%s transition %v, want %v", c.Type, c.LastTransitionTime, want)
		}
	}
}

func TestIPPool(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		steps  func(p *ipPool) []string
		want   []string
	}{
		{
			name:   "addresses follow the prefix's first one",
			prefix: "127.1.0.0/16",
			steps: func(p *ipPool) []string {
				return []string{alloc(p, "a"), alloc(p, "b"), alloc(p, "a")}
			},
			want: []string{"127.1.0.1", "127.1.0.2", "127.1.0.1"},
		},
		{
			name:   "a released address is handed out again after wrapping",
			prefix: "127.2.0.0/30",
			steps: func(p *ipPool) []string {
				out := []string{alloc(p, "a"), alloc(p, "b"), alloc(p, "c")}
				p.release("b")
				return append(out, alloc(p, "d"), alloc(p, "e"))
			},
			want: []string{"127.2.0.1", "127.2.0.2", "127.2.0.3", "127.2.0.2", "exhausted"},
		},
		{
			name:   "reserved address is skipped, out-of-range reservation ignored",
			prefix: "127.3.0.0/24",
			steps: func(p *ipPool) []string {
				p.reserve("old", netip.MustParseAddr("127.3.0.1"))
				p.reserve("foreign", netip.MustParseAddr("10.0.0.1"))
				return []string{alloc(p, "old"), alloc(p, "new"), alloc(p, "foreign")}
			},
			want: []string{"127.3.0.1", "127.3.0.2", "127.3.0.3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.steps(newIPPool(netip.MustParsePrefix(tt.prefix)))
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("step %d: got %s, want %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func alloc(p *ipPool, uid string) string {
	ip, err := p.allocate(types.UID(uid))
	if err != nil {
		return "exhausted"
	}
	return ip.String()
}
