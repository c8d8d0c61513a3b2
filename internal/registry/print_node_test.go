package registry

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func tableNode(mutate ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", CreationTimestamp: tableAgo(40 * 24 * time.Hour)},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", OSImage: "Debian GNU/Linux 13 (trixie)",
				KernelVersion: "6.12.0", ContainerRuntimeVersion: "containerd://2.1.0"},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeHostName, Address: "node-1"},
				{Type: corev1.NodeInternalIP, Address: "192.168.1.10"},
				{Type: corev1.NodeInternalIP, Address: "fd00::10"},
			},
		},
	}
	for _, m := range mutate {
		m(n)
	}
	return n
}

func withNodeReady(s corev1.ConditionStatus) func(*corev1.Node) {
	return func(n *corev1.Node) {
		n.Status.Conditions = []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
			{Type: corev1.NodeReady, Status: s},
		}
	}
}

func TestNodeStatus(t *testing.T) {
	tests := []struct {
		name string
		node *corev1.Node
		want string
	}{
		{name: "ready node prints Ready", node: tableNode(), want: "Ready"},
		{name: "cordoned ready node prints Ready,SchedulingDisabled",
			node: tableNode(func(n *corev1.Node) { n.Spec.Unschedulable = true }), want: "Ready,SchedulingDisabled"},
		{name: "Ready condition False prints NotReady", node: tableNode(withNodeReady(corev1.ConditionFalse)), want: "NotReady"},
		{name: "Ready condition Unknown prints NotReady", node: tableNode(withNodeReady(corev1.ConditionUnknown)), want: "NotReady"},
		{name: "node without a Ready condition prints Unknown",
			node: tableNode(func(n *corev1.Node) { n.Status.Conditions = nil }), want: "Unknown"},
		{name: "cordoned node without conditions prints Unknown,SchedulingDisabled",
			node: tableNode(func(n *corev1.Node) { n.Status.Conditions, n.Spec.Unschedulable = nil, true }),
			want: "Unknown,SchedulingDisabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nodeRow(tt.node, tableNow())[1]; got != tt.want {
				t.Errorf("STATUS = %v, want %q", got, tt.want)
			}
		})
	}
}

func TestNodeRow(t *testing.T) {
	tests := []struct {
		name string
		node *corev1.Node
		want []interface{}
	}{
		{name: "worker without role labels prints <none> roles and its first internal IP",
			node: tableNode(),
			want: []interface{}{"node-1", "Ready", "<none>", "40d", "v1.37.2", "192.168.1.10", "<none>",
				"Debian GNU/Linux 13 (trixie)", "6.12.0", "containerd://2.1.0"}},
		{name: "roles come sorted and distinct from both role labels",
			node: tableNode(func(n *corev1.Node) {
				n.Labels = map[string]string{
					"node-role.kubernetes.io/worker":        "",
					"node-role.kubernetes.io/control-plane": "true",
					"kubernetes.io/role":                    "worker",
					"node-role.kubernetes.io/":              "",
				}
				n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.5"})
			}),
			want: []interface{}{"node-1", "Ready", "control-plane,worker", "40d", "v1.37.2", "192.168.1.10", "203.0.113.5",
				"Debian GNU/Linux 13 (trixie)", "6.12.0", "containerd://2.1.0"}},
		{name: "node that has not reported prints <none> and <unknown>",
			node: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "new"}},
			want: []interface{}{"new", "Unknown", "<none>", "<unknown>", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCells(t, nodeRow(tt.node, tableNow()), tt.want)
		})
	}
}

func TestNodeFields(t *testing.T) {
	p := nodePrinter()
	if got := p.fields(tableNode())["spec.unschedulable"]; got != "false" {
		t.Errorf("spec.unschedulable = %q, want false", got)
	}
	cordoned := tableNode(func(n *corev1.Node) { n.Spec.Unschedulable = true })
	if got := p.fields(cordoned)["spec.unschedulable"]; got != "true" {
		t.Errorf("spec.unschedulable = %q, want true", got)
	}
}
