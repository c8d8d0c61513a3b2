package nodelifecycle

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(ready corev1.ConditionStatus, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{Spec: corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
}

func TestWantTaints(t *testing.T) {
	now := metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	earlier := metav1.NewTime(now.Add(-time.Minute))
	tests := []struct {
		name        string
		node        *corev1.Node
		wantKeys    []string
		wantChanged bool
	}{
		{"ready node keeps no taints", node(corev1.ConditionTrue), nil, false},
		{"unknown node gets unreachable NoSchedule and NoExecute", node(corev1.ConditionUnknown),
			[]string{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}, true},
		{"not-ready node gets not-ready", node(corev1.ConditionFalse),
			[]string{"node.kubernetes.io/not-ready:NoSchedule", "node.kubernetes.io/not-ready:NoExecute"}, true},
		{"recovered node loses them, keeps others", node(corev1.ConditionTrue,
			corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &earlier},
			corev1.Taint{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}),
			[]string{"dedicated:NoSchedule"}, true},
		{"already tainted: unchanged", node(corev1.ConditionUnknown,
			corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
			corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &earlier}),
			[]string{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := wantTaints(tt.node, now)
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			var keys []string
			for _, tn := range got {
				keys = append(keys, tn.Key+":"+string(tn.Effect))
			}
			if len(keys) != len(tt.wantKeys) {
				t.Fatalf("taints %v, want %v", keys, tt.wantKeys)
			}
			for i := range keys {
				if keys[i] != tt.wantKeys[i] {
					t.Fatalf("taints %v, want %v", keys, tt.wantKeys)
				}
			}
		})
	}
}

func TestEvictAt(t *testing.T) {
	added := metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	unreachable := []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}}
	secs := func(s int64) *int64 { return &s }
	tests := []struct {
		name   string
		tols   []corev1.Toleration
		taints []corev1.Taint
		want   time.Duration // after added; -1: never
	}{
		{"no toleration: the default 300 s", nil, unreachable, 300 * time.Second},
		{"own tolerationSeconds", []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(30)}}, unreachable, 30 * time.Second},
		{"tolerates forever", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, unreachable, -1},
		{"other NoExecute taint not tolerated: at once", nil, []corev1.Taint{{Key: "evict-me", Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}}, 0},
		{"NoSchedule only: stays", nil, []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tt.tols}}
			at, ok := evictAt(pod, tt.taints, 300*time.Second)
			if tt.want < 0 {
				if ok {
					t.Errorf("evict at %v, want never", at)
				}
				return
			}
			if !ok || !at.Equal(added.Add(tt.want)) {
				t.Errorf("evict at %v (%v), want %v", at, ok, added.Add(tt.want))
			}
		})
	}
}

func TestUnknownConditions(t *testing.T) {
	now := metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	n := &corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
	}}}
	conds, changed := unknownConditions(n, now)
	if !changed {
		t.Fatal("not changed")
	}
	for _, c := range conds {
		if c.Status != corev1.ConditionUnknown || c.Reason != "NodeStatusUnknown" || c.Message != "Kubelet stopped posting node status." {
			t.Errorf("condition %s = %s/%s/%s", c.Type, c.Status, c.Reason, c.Message)
		}
	}
}
