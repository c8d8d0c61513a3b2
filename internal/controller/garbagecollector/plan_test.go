package garbagecollector

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func ref(uid string, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs-" + uid, UID: types.UID(uid), BlockOwnerDeletion: &block}
}

func TestPlanDependent(t *testing.T) {
	tests := []struct {
		name          string
		refs          []metav1.OwnerReference
		states        map[types.UID]ownerState
		finalizers    []string
		hasDependents bool
		want          action
	}{
		{
			name: "no owners: nothing to collect",
			want: action{kind: keep},
		},
		{
			name:   "the only owner exists: keep",
			refs:   []metav1.OwnerReference{ref("a", true)},
			states: map[types.UID]ownerState{"a": solid},
			want:   action{kind: keep},
		},
		{
			name:   "the only owner is gone: delete in the background",
			refs:   []metav1.OwnerReference{ref("a", true)},
			states: map[types.UID]ownerState{"a": dangling},
			want:   action{kind: deleteObject, policy: metav1.DeletePropagationBackground},
		},
		{
			name:   "one owner gone, one alive: drop the dangling reference only",
			refs:   []metav1.OwnerReference{ref("a", true), ref("b", false)},
			states: map[types.UID]ownerState{"a": dangling, "b": solid},
			want:   action{kind: removeReferences, remove: []types.UID{"a"}},
		},
		{
			name:   "owner waiting in foreground, another alive: drop the waiting reference so it need not wait",
			refs:   []metav1.OwnerReference{ref("a", true), ref("b", false)},
			states: map[types.UID]ownerState{"a": waiting, "b": solid},
			want:   action{kind: removeReferences, remove: []types.UID{"a"}},
		},
		{
			name:          "owner waiting and dependent has dependents: delete in the foreground",
			refs:          []metav1.OwnerReference{ref("a", true)},
			states:        map[types.UID]ownerState{"a": waiting},
			hasDependents: true,
			want:          action{kind: deleteObject, policy: metav1.DeletePropagationForeground},
		},
		{
			name:   "owner waiting, dependent is a leaf: delete in the background",
			refs:   []metav1.OwnerReference{ref("a", true)},
			states: map[types.UID]ownerState{"a": waiting},
			want:   action{kind: deleteObject, policy: metav1.DeletePropagationBackground},
		},
		{
			name:          "all owners gone and dependent asks to orphan its own dependents",
			refs:          []metav1.OwnerReference{ref("a", true)},
			states:        map[types.UID]ownerState{"a": dangling},
			finalizers:    []string{metav1.FinalizerOrphanDependents},
			hasDependents: true,
			want:          action{kind: deleteObject, policy: metav1.DeletePropagationOrphan},
		},
		{
			name:       "all owners gone and dependent already carries foregroundDeletion",
			refs:       []metav1.OwnerReference{ref("a", true)},
			states:     map[types.UID]ownerState{"a": dangling},
			finalizers: []string{metav1.FinalizerDeleteDependents},
			want:       action{kind: deleteObject, policy: metav1.DeletePropagationForeground},
		},
		{
			name:   "two owners both gone: delete",
			refs:   []metav1.OwnerReference{ref("a", true), ref("b", false)},
			states: map[types.UID]ownerState{"a": dangling, "b": waiting},
			want:   action{kind: deleteObject, policy: metav1.DeletePropagationBackground},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planDependent(tt.refs, tt.states, tt.finalizers, tt.hasDependents)
			if got.kind != tt.want.kind || got.policy != tt.want.policy || !slices.Equal(got.remove, tt.want.remove) {
				t.Errorf("planDependent() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestOwnerBlocked(t *testing.T) {
	tests := []struct {
		name string
		deps [][]metav1.OwnerReference
		want bool
	}{
		{name: "no dependents left", want: false},
		{name: "a dependent blocks", deps: [][]metav1.OwnerReference{{ref("o", false)}, {ref("o", true)}}, want: true},
		{name: "dependents without blockOwnerDeletion do not block", deps: [][]metav1.OwnerReference{{ref("o", false)}}, want: false},
		{name: "blocking another owner does not count", deps: [][]metav1.OwnerReference{{ref("x", true), ref("o", false)}}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ownerBlocked("o", tt.deps); got != tt.want {
				t.Errorf("ownerBlocked() = %v, want %v", got, tt.want)
			}
		})
	}
}
