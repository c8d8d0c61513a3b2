package garbagecollector

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ownerState is what the collector found of one owner reference.
type ownerState int

const (
	// solid: the owner exists and is not waiting for its dependents.
	solid ownerState = iota
	// dangling: no object with the owner's UID exists.
	dangling
	// waiting: the owner is being deleted in the foreground and waits for
	// its dependents to go first.
	waiting
)

// actionKind is what the collector does to one dependent.
type actionKind int

const (
	keep actionKind = iota
	removeReferences
	deleteObject
)

// action is the plan for one dependent.
type action struct {
	kind   actionKind
	remove []types.UID                // references to drop, for removeReferences
	policy metav1.DeletionPropagation // for deleteObject
}

// planDependent decides the fate of a dependent from the state of each of its
// owners, as upstream's attemptToDeleteItem does:
//   - with a solid owner it stays, minus references to dangling or waiting owners;
//   - otherwise, if an owner waits and the dependent has dependents of its own,
//     it is deleted in the foreground so the owner waits for the whole subtree;
//   - otherwise it is deleted, honouring an orphan or foreground finalizer it
//     already carries, in the background by default.
func planDependent(refs []metav1.OwnerReference, states map[types.UID]ownerState, finalizers []string, hasDependents bool) action {
	if len(refs) == 0 {
		return action{kind: keep}
	}
	var solids, dropped []types.UID
	anyWaiting := false
	for _, r := range refs {
		switch states[r.UID] {
		case solid:
			solids = append(solids, r.UID)
		case dangling:
			dropped = append(dropped, r.UID)
		case waiting:
			dropped = append(dropped, r.UID)
			anyWaiting = true
		}
	}
	switch {
	case len(solids) > 0 && len(dropped) == 0:
		return action{kind: keep}
	case len(solids) > 0:
		return action{kind: removeReferences, remove: dropped}
	case anyWaiting && hasDependents:
		return action{kind: deleteObject, policy: metav1.DeletePropagationForeground}
	case slices.Contains(finalizers, metav1.FinalizerOrphanDependents):
		return action{kind: deleteObject, policy: metav1.DeletePropagationOrphan}
	case slices.Contains(finalizers, metav1.FinalizerDeleteDependents):
		return action{kind: deleteObject, policy: metav1.DeletePropagationForeground}
	default:
		return action{kind: deleteObject, policy: metav1.DeletePropagationBackground}
	}
}

// ownerBlocked reports whether an owner in foreground deletion must still
// wait: some dependent references it with blockOwnerDeletion.
func ownerBlocked(owner types.UID, dependents [][]metav1.OwnerReference) bool {
	for _, refs := range dependents {
		for _, r := range refs {
			if r.UID == owner && r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
				return true
			}
		}
	}
	return false
}

// withoutOwners returns refs minus those pointing at any of uids.
func withoutOwners(refs []metav1.OwnerReference, uids ...types.UID) []metav1.OwnerReference {
	out := make([]metav1.OwnerReference, 0, len(refs))
	for _, r := range refs {
		if !slices.Contains(uids, r.UID) {
			out = append(out, r)
		}
	}
	return out
}
