package namespace

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func at(sec int64) metav1.Time { return metav1.NewTime(time.Unix(1_700_000_000+sec, 0)) }

func TestConditions(t *testing.T) {
	type want struct {
		status  v1.ConditionStatus
		reason  string
		message string
	}
	tests := []struct {
		name string
		p    progress
		want map[v1.NamespaceConditionType]want
	}{
		{
			name: "everything gone: every condition False with upstream's wording",
			p:    progress{},
			want: map[v1.NamespaceConditionType]want{
				v1.NamespaceDeletionDiscoveryFailure: {v1.ConditionFalse, "ResourcesDiscovered", "All resources successfully discovered"},
				v1.NamespaceDeletionContentFailure:   {v1.ConditionFalse, "ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
				v1.NamespaceContentRemaining:         {v1.ConditionFalse, "ContentRemoved", "All content successfully removed"},
				v1.NamespaceFinalizersRemaining:      {v1.ConditionFalse, "ContentHasNoFinalizers", "All content-preserving finalizers finished"},
			},
		},
		{
			name: "pods left behind finalizers, named as upstream names core resources",
			p: progress{
				remaining:  map[string]int{"pods.": 2, "deployments.apps": 1},
				finalizers: map[string]int{"foregroundDeletion": 1, "example.com/hold": 2},
			},
			want: map[v1.NamespaceConditionType]want{
				v1.NamespaceContentRemaining: {v1.ConditionTrue, "SomeResourcesRemain",
					"Some resources are remaining: deployments.apps has 1 resource instances, pods. has 2 resource instances"},
				v1.NamespaceFinalizersRemaining: {v1.ConditionTrue, "SomeFinalizersRemain",
					"Some content in the namespace has finalizers remaining: example.com/hold in 2 resource instances, foregroundDeletion in 1 resource instances"},
				v1.NamespaceDeletionContentFailure: {v1.ConditionFalse, "ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
			},
		},
		{
			name: "delete failures are counted",
			p:    progress{failures: []string{"delete pods: boom", "list secrets: bang"}},
			want: map[v1.NamespaceConditionType]want{
				v1.NamespaceDeletionContentFailure: {v1.ConditionTrue, "ContentDeletionFailed",
					"Failed to delete all resource types, 2 remaining: delete pods: boom, list secrets: bang"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := conditions(nil, tt.p, at(1))
			if len(got) != 5 {
				t.Fatalf("got %d conditions, want 5", len(got))
			}
			for _, c := range got {
				w, ok := tt.want[c.Type]
				if !ok {
					continue
				}
				if c.Status != w.status || c.Reason != w.reason || c.Message != w.message {
					t.Errorf("%s = %s %s %q, want %s %s %q", c.Type, c.Status, c.Reason, c.Message, w.status, w.reason, w.message)
				}
			}
		})
	}
}

func TestConditionsKeepTransitionTimes(t *testing.T) {
	first := conditions(nil, progress{remaining: map[string]int{"pods.": 1}}, at(1))
	second := conditions(first, progress{}, at(2))
	for _, c := range second {
		want := at(1)
		if c.Type == v1.NamespaceContentRemaining {
			want = at(2) // True → False
		}
		if !c.LastTransitionTime.Equal(&want) {
			t.Errorf("%s transition %v, want %v", c.Type, c.LastTransitionTime, want)
		}
	}
	if sameConditions(first, second) {
		t.Error("sameConditions ignores a status change")
	}
	if !sameConditions(second, conditions(second, progress{}, at(3))) {
		t.Error("sameConditions sees a change where only time moved")
	}
}
