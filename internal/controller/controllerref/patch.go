package controllerref

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// AdoptPatch returns the strategic merge patch that makes owner the
// controller of the object with UID dependent. The UID in the patch makes the
// API server refuse it if the object was replaced by another of the same name.
func AdoptPatch(owner metav1.Object, kind schema.GroupVersionKind, dependent types.UID) ([]byte, error) {
	isController, block := true, true
	type meta struct {
		OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
		UID             types.UID               `json:"uid"`
	}
	return json.Marshal(struct {
		Metadata meta `json:"metadata"`
	}{meta{
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion:         kind.GroupVersion().String(),
			Kind:               kind.Kind,
			Name:               owner.GetName(),
			UID:                owner.GetUID(),
			Controller:         &isController,
			BlockOwnerDeletion: &block,
		}},
		UID: dependent,
	}})
}

// ReleasePatch returns the strategic merge patch that removes the owner
// reference to owner from the object with UID dependent.
func ReleasePatch(dependent, owner types.UID) ([]byte, error) {
	type meta struct {
		UID             types.UID           `json:"uid"`
		OwnerReferences []map[string]string `json:"ownerReferences"`
	}
	return json.Marshal(struct {
		Metadata meta `json:"metadata"`
	}{meta{
		UID:             dependent,
		OwnerReferences: []map[string]string{{"$patch": "delete", "uid": string(owner)}},
	}})
}
