package scheduler

import (
	"slices"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFilter(t *testing.T) {
	tests := []struct {
		name string
		pod  *v1.Pod
		node *nodeInfo
		want []string
	}{
		{
			name: "ready node with room fits",
			pod:  makePod("p", requests("1", "1Gi")),
			node: info(makeNode("n1")),
		},
		{
			name: "cordoned node is refused",
			pod:  makePod("p"),
			node: info(makeNode("n1", cordoned)),
			want: []string{"node(s) were unschedulable"},
		},
		{
			name: "cordoned node is allowed to a pod tolerating the unschedulable taint",
			pod:  makePod("p", tolerate(v1.TaintNodeUnschedulable, v1.TolerationOpExists, "", v1.TaintEffectNoSchedule)),
			node: info(makeNode("n1", cordoned)),
		},
		{
			name: "untolerated NoSchedule taint names key and value",
			pod:  makePod("p"),
			node: info(makeNode("n1", taint("dedicated", "gpu", v1.TaintEffectNoSchedule))),
			want: []string{"node(s) had untolerated taint {dedicated: gpu}"},
		},
		{
			name: "untolerated NoExecute taint is refused",
			pod:  makePod("p"),
			node: info(makeNode("n1", taint("maintenance", "", v1.TaintEffectNoExecute))),
			want: []string{"node(s) had untolerated taint {maintenance: }"},
		},
		{
			name: "PreferNoSchedule taint does not filter",
			pod:  makePod("p"),
			node: info(makeNode("n1", taint("dedicated", "gpu", v1.TaintEffectPreferNoSchedule))),
		},
		{
			name: "taint tolerated by Equal on key and value",
			pod:  makePod("p", tolerate("dedicated", v1.TolerationOpEqual, "gpu", v1.TaintEffectNoSchedule)),
			node: info(makeNode("n1", taint("dedicated", "gpu", v1.TaintEffectNoSchedule))),
		},
		{
			name: "toleration with another value does not tolerate",
			pod:  makePod("p", tolerate("dedicated", v1.TolerationOpEqual, "db", v1.TaintEffectNoSchedule)),
			node: info(makeNode("n1", taint("dedicated", "gpu", v1.TaintEffectNoSchedule))),
			want: []string{"node(s) had untolerated taint {dedicated: gpu}"},
		},
		{
			name: "empty-key Exists toleration tolerates everything",
			pod:  makePod("p", tolerate("", v1.TolerationOpExists, "", "")),
			node: info(makeNode("n1", taint("a", "b", v1.TaintEffectNoExecute), readyStatusIs(v1.ConditionFalse))),
		},
		{
			name: "node with Ready=False is refused through the not-ready taint",
			pod:  makePod("p"),
			node: info(makeNode("n1", readyStatusIs(v1.ConditionFalse))),
			want: []string{"node(s) had untolerated taint {node.kubernetes.io/not-ready: }"},
		},
		{
			name: "node with Ready=Unknown is refused through the unreachable taint",
			pod:  makePod("p"),
			node: info(makeNode("n1", readyStatusIs(v1.ConditionUnknown))),
			want: []string{"node(s) had untolerated taint {node.kubernetes.io/unreachable: }"},
		},
		{
			name: "node that never reported Ready counts as unreachable",
			pod:  makePod("p"),
			node: info(makeNode("n1", noConditions)),
			want: []string{"node(s) had untolerated taint {node.kubernetes.io/unreachable: }"},
		},
		{
			name: "not-ready node is allowed to a pod tolerating not-ready",
			pod:  makePod("p", tolerate(v1.TaintNodeNotReady, v1.TolerationOpExists, "", v1.TaintEffectNoSchedule)),
			node: info(makeNode("n1", readyStatusIs(v1.ConditionFalse))),
		},
		{
			name: "cordon is checked before taints",
			pod:  makePod("p"),
			node: info(makeNode("n1", cordoned, taint("a", "b", v1.TaintEffectNoSchedule))),
			want: []string{"node(s) were unschedulable"},
		},
		{
			name: "nodeSelector not matching labels",
			pod:  makePod("p", selector("disk", "ssd")),
			node: info(makeNode("n1", nodeLabel("disk", "hdd"))),
			want: []string{"node(s) didn't match Pod's node affinity/selector"},
		},
		{
			name: "nodeSelector matching labels",
			pod:  makePod("p", selector("disk", "ssd")),
			node: info(makeNode("n1", nodeLabel("disk", "ssd"))),
		},
		{
			name: "required node affinity not matching",
			pod:  makePod("p", requiredAffinity("zone", "a", "b")),
			node: info(makeNode("n1", nodeLabel("zone", "c"))),
			want: []string{"node(s) didn't match Pod's node affinity/selector"},
		},
		{
			name: "required node affinity matching one value",
			pod:  makePod("p", requiredAffinity("zone", "a", "b")),
			node: info(makeNode("n1", nodeLabel("zone", "b"))),
		},
		{
			name: "cpu request larger than what is left",
			pod:  makePod("p", requests("2", "")),
			node: info(makeNode("n1"), makePod("a", requests("3", ""), boundTo("n1"))),
			want: []string{"Insufficient cpu"},
		},
		{
			name: "cpu request exactly what is left fits",
			pod:  makePod("p", requests("1", "")),
			node: info(makeNode("n1"), makePod("a", requests("3", ""), boundTo("n1"))),
		},
		{
			name: "both cpu and memory short gives both reasons",
			pod:  makePod("p", requests("5", "9Gi")),
			node: info(makeNode("n1")),
			want: []string{"Insufficient cpu", "Insufficient memory"},
		},
		{
			name: "pod count at allocatable",
			pod:  makePod("p"),
			node: info(makeNode("n1", allocatable("4", "8Gi", "1")), makePod("a", boundTo("n1"))),
			want: []string{"Too many pods"},
		},
		{
			name: "pod without requests fits a node whose cpu is all requested",
			pod:  makePod("p"),
			node: info(makeNode("n1"), makePod("a", requests("4", "8Gi"), boundTo("n1"))),
		},
		{
			name: "init container request larger than containers decides",
			pod:  makePod("p", requests("1", ""), initContainerRequests("5")),
			node: info(makeNode("n1")),
			want: []string{"Insufficient cpu"},
		},
		{
			name: "extended resource the node lacks",
			pod:  makePod("p", extendedRequest("example.com/gpu", "1")),
			node: info(makeNode("n1")),
			want: []string{"Insufficient example.com/gpu"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := filter(newPodInfo(tt.pod), tt.node)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("filter() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFitErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  FitError
		want string
	}{
		{
			name: "no nodes at all",
			err:  FitError{},
			want: "no nodes available to schedule pods",
		},
		{
			name: "reasons sorted as upstream sorts them",
			err:  FitError{NumAllNodes: 2, Reasons: map[string]int{reasonUnschedulable: 1, "Insufficient cpu": 1}},
			want: "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable.",
		},
		{
			name: "counts per reason",
			err: FitError{NumAllNodes: 5, Reasons: map[string]int{
				reasonNodeAffinity: 3, "node(s) had untolerated taint {dedicated: gpu}": 2,
			}},
			want: "0/5 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}, 3 node(s) didn't match Pod's node affinity/selector.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSelectNode(t *testing.T) {
	tests := []struct {
		name    string
		pod     *v1.Pod
		nodes   []*nodeInfo
		start   int
		want    string
		wantErr string
	}{
		{
			name: "the only feasible node wins",
			pod:  makePod("p"),
			nodes: []*nodeInfo{
				info(makeNode("n1", cordoned)),
				info(makeNode("n2")),
			},
			want: "n2",
		},
		{
			name: "fewer pods of the same owner beats a less loaded node",
			pod:  makePod("p", ownedBy("rs1")),
			nodes: []*nodeInfo{
				info(makeNode("n1"), makePod("a", ownedBy("rs1"), boundTo("n1"))),
				info(makeNode("n2"), makePod("b", ownedBy("other"), requests("3", "6Gi"), boundTo("n2"))),
			},
			want: "n2",
		},
		{
			name: "equal spread: least requested wins",
			pod:  makePod("p", ownedBy("rs1")),
			nodes: []*nodeInfo{
				info(makeNode("n1"), makePod("a", ownedBy("rs1"), requests("2", "1Gi"), boundTo("n1"))),
				info(makeNode("n2"), makePod("b", ownedBy("rs1"), boundTo("n2"))),
			},
			want: "n2",
		},
		{
			name: "pods without requests still spread by default requests",
			pod:  makePod("p"),
			nodes: []*nodeInfo{
				info(makeNode("n1"), makePod("a", boundTo("n1")), makePod("b", boundTo("n1"))),
				info(makeNode("n2"), makePod("c", boundTo("n2"))),
			},
			want: "n2",
		},
		{
			name:  "ties go to the first node from start",
			pod:   makePod("p"),
			nodes: []*nodeInfo{info(makeNode("n1")), info(makeNode("n2")), info(makeNode("n3"))},
			start: 1,
			want:  "n2",
		},
		{
			name: "nothing fits: reasons counted per node",
			pod:  makePod("p", requests("3", "")),
			nodes: []*nodeInfo{
				info(makeNode("n1", cordoned)),
				info(makeNode("n2", allocatable("2", "8Gi", "110"))),
			},
			wantErr: "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fitErr := selectNode(newPodInfo(tt.pod), tt.nodes, tt.start)
			if tt.wantErr != "" {
				if fitErr == nil || fitErr.Error() != tt.wantErr {
					t.Fatalf("selectNode() error = %v, want %q", fitErr, tt.wantErr)
				}
				return
			}
			if fitErr != nil {
				t.Fatalf("selectNode() error = %v", fitErr)
			}
			if got.node.Name != tt.want {
				t.Errorf("selectNode() = %s, want %s", got.node.Name, tt.want)
			}
		})
	}
}

func TestLeastRequested(t *testing.T) {
	tests := []struct {
		name string
		pod  *v1.Pod
		node *nodeInfo
		want int64
	}{
		{name: "empty node, pod takes a quarter", pod: makePod("p", requests("1", "2Gi")), node: info(makeNode("n")), want: 75},
		{name: "half used plus a quarter", pod: makePod("p", requests("1", "2Gi")),
			node: info(makeNode("n"), makePod("a", requests("2", "4Gi"), boundTo("n"))), want: 25},
		{name: "over capacity scores zero", pod: makePod("p", requests("8", "16Gi")), node: info(makeNode("n")), want: 0},
		{name: "unset requests count as 100m and 200Mi", pod: makePod("p"), node: info(makeNode("n", allocatable("1", "400Mi", "10"))), want: (90 + 50) / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := leastRequested(newPodInfo(tt.pod), tt.node); got != tt.want {
				t.Errorf("leastRequested() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestWithCondition(t *testing.T) {
	cond := v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: "Unschedulable", Message: "m1"}
	pod := makePod("p")
	first, changed := withCondition(pod, cond, nowForTest(1))
	if !changed || len(first.Status.Conditions) != 1 || len(pod.Status.Conditions) != 0 {
		t.Fatalf("first set: changed=%v conditions=%v (original %v)", changed, first.Status.Conditions, pod.Status.Conditions)
	}
	if _, changed := withCondition(first, cond, nowForTest(2)); changed {
		t.Errorf("same condition again reported a change")
	}
	cond.Message = "m2"
	second, changed := withCondition(first, cond, nowForTest(3))
	if !changed || second.Status.Conditions[0].Message != "m2" {
		t.Fatalf("new message not written: %v", second.Status.Conditions)
	}
	if got := second.Status.Conditions[0].LastTransitionTime; !got.Time.Equal(nowForTest(1).Time) {
		t.Errorf("transition time moved on a message change: %v", got)
	}
}

func nowForTest(sec int64) metav1.Time {
	return metav1.NewTime(time.Unix(1_700_000_000+sec, 0))
}
