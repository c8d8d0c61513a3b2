package replicaset

import (
	"fmt"
	"slices"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestSortCandidates(t *testing.T) {
	rs := newRS("kubia", 3)
	theirs := func(p *v1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "other", UID: "other-uid", Controller: ptr.To(true)}}
	}
	orphan := func(p *v1.Pod) { p.OwnerReferences = nil }
	relabeled := func(p *v1.Pod) { p.Labels = map[string]string{"app": "debugging"} }
	deleting := func(p *v1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(now)) }
	owned := func(name string, opts ...podOpt) *v1.Pod {
		p := ownedPod(name)
		for _, o := range opts {
			o(p)
		}
		return p
	}
	tests := []struct {
		name                           string
		pod                            *v1.Pod
		active, terminating, unclaimed bool
	}{
		{name: "a pod of ours that is selected counts", pod: owned("p"), active: true},
		{name: "a pod of ours being deleted is terminating", pod: owned("p", deleting), terminating: true},
		{name: "a finished pod of ours is left out", pod: owned("p", phase(v1.PodSucceeded))},
		{name: "a failed pod of ours is left out", pod: owned("p", phase(v1.PodFailed))},
		{name: "a pod of ours no longer selected is to be released", pod: owned("p", relabeled), unclaimed: true},
		{name: "a pod of ours no longer selected and being deleted is left alone", pod: owned("p", relabeled, deleting)},
		{name: "a selected orphan is to be adopted", pod: owned("p", orphan), unclaimed: true},
		{name: "an orphan not selected is left alone", pod: owned("p", orphan, relabeled)},
		{name: "an orphan being deleted is not adopted", pod: owned("p", orphan, deleting)},
		{name: "another controller's pod is left alone", pod: owned("p", theirs)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sets := sortCandidates(rs, pairsOf(rs.Spec.Selector.MatchLabels).in, []*v1.Pod{tt.pod})
			got := []bool{len(sets.active) == 1, len(sets.terminating) == 1, len(sets.unclaimed) == 1}
			if want := []bool{tt.active, tt.terminating, tt.unclaimed}; !slices.Equal(got, want) {
				t.Errorf("active, terminating, unclaimed = %v, want %v", got, want)
			}
		})
	}
}

func TestMatcher(t *testing.T) {
	tests := []struct {
		name   string
		sel    *metav1.LabelSelector
		labels map[string]string
		want   bool
	}{
		{name: "every matchLabels pair present", sel: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "kubia", "pod-template-hash": "abc"}},
			labels: map[string]string{"app": "kubia", "pod-template-hash": "abc", "extra": "x"}, want: true},
		{name: "a matchLabels value differs", sel: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "kubia", "pod-template-hash": "abc"}},
			labels: map[string]string{"app": "kubia", "pod-template-hash": "def"}},
		{name: "a matchLabels key missing", sel: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "kubia", "pod-template-hash": "abc"}},
			labels: map[string]string{"app": "kubia"}},
		{name: "an empty value is a value", sel: &metav1.LabelSelector{MatchLabels: map[string]string{"app": ""}},
			labels: map[string]string{}},
		{name: "expressions go through the selector", sel: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"web"}}}},
			labels: map[string]string{"app": "kubia"}, want: true},
		{name: "an empty selector selects everything, as its parsed form does", sel: &metav1.LabelSelector{},
			labels: map[string]string{"app": "kubia"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			selector, err := metav1.LabelSelectorAsSelector(tt.sel)
			if err != nil {
				t.Fatal(err)
			}
			if got := matcher(tt.sel, selector)(tt.labels); got != tt.want {
				t.Errorf("matches = %v, want %v", got, tt.want)
			}
		})
	}
}

// BenchmarkSortAndCount1000 is the pod work of one sync of a 1,000-replica
// ReplicaSet whose sibling has as many pods: sorting its candidates and
// computing its status.
func BenchmarkSortAndCount1000(b *testing.B) {
	rs := newRS("kubia", 1000)
	rs.Spec.Selector.MatchLabels = map[string]string{"app": "kubia", "pod-template-hash": "abc"}
	rs.Spec.Template.Labels = rs.Spec.Selector.MatchLabels
	var pods []*v1.Pod
	for i := range 1000 {
		p := ownedPod(fmt.Sprintf("kubia-%04d", i), readyFor(time.Minute))
		p.Labels = rs.Spec.Template.Labels
		pods = append(pods, p)
	}
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		sets := sortCandidates(rs, matcher(rs.Spec.Selector, selector), pods)
		if s := calculateStatus(rs, sets.active, sets.terminating, nil, true, now); s.AvailableReplicas != 1000 {
			b.Fatalf("status %+v", s)
		}
	}
}
