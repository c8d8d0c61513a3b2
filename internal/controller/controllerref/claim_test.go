package controllerref

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

var rsKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

func owner(deleting bool) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "rs-uid"}}
	if deleting {
		now := metav1.Now()
		rs.DeletionTimestamp = &now
	}
	return rs
}

func pod(name string, lbls map[string]string, controller types.UID) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"), Labels: lbls}}
	if controller != "" {
		t := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", UID: controller, Controller: &t}}
	}
	return p
}

func TestClaim(t *testing.T) {
	match := map[string]string{"app": "web"}
	other := map[string]string{"app": "db"}
	tests := []struct {
		name        string
		owner       *appsv1.ReplicaSet
		pod         *v1.Pod
		canAdopt    error
		wantClaimed bool
		wantPatch   string // "", "adopt" or "release"
		wantErr     bool
	}{
		{name: "owned and matching is kept without a patch", owner: owner(false), pod: pod("a", match, "rs-uid"), wantClaimed: true},
		{name: "owned by another controller is ignored", owner: owner(false), pod: pod("a", match, "other"), wantClaimed: false},
		{name: "owned but no longer matching is released", owner: owner(false), pod: pod("a", other, "rs-uid"), wantPatch: "release"},
		{name: "a deleting owner does not release", owner: owner(true), pod: pod("a", other, "rs-uid")},
		{name: "a deleting owner keeps what it owns", owner: owner(true), pod: pod("a", match, "rs-uid"), wantClaimed: true},
		{name: "a matching orphan is adopted", owner: owner(false), pod: pod("a", match, ""), wantClaimed: true, wantPatch: "adopt"},
		{name: "a non-matching orphan is left alone", owner: owner(false), pod: pod("a", other, "")},
		{name: "a deleting owner adopts nothing", owner: owner(true), pod: pod("a", match, "")},
		{name: "an owner deleted since the cache was read adopts nothing", owner: owner(false), pod: pod("a", match, ""), canAdopt: errors.New("gone"), wantPatch: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var patched string
			c := &Claimer[*v1.Pod]{
				Owner:    tt.owner,
				Kind:     rsKind,
				Selector: labels.SelectorFromSet(match),
				Patch: func(_ context.Context, p *v1.Pod, patch []byte) error {
					var got struct {
						Metadata struct {
							OwnerReferences []map[string]any `json:"ownerReferences"`
						} `json:"metadata"`
					}
					if err := json.Unmarshal(patch, &got); err != nil {
						t.Fatal(err)
					}
					patched = "adopt"
					if got.Metadata.OwnerReferences[0]["$patch"] == "delete" {
						patched = "release"
					}
					return nil
				},
				CanAdopt: func(context.Context) error { return tt.canAdopt },
			}
			claimed, err := c.Claim(context.Background(), []*v1.Pod{tt.pod})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got := len(claimed) == 1; got != tt.wantClaimed {
				t.Errorf("claimed = %v, want %v", got, tt.wantClaimed)
			}
			if patched != tt.wantPatch {
				t.Errorf("patch = %q, want %q", patched, tt.wantPatch)
			}
		})
	}
}

// The patches must do what they say when the API server applies them.
func TestPatchesApply(t *testing.T) {
	p := pod("a", map[string]string{"app": "web"}, "")
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "unrelated", UID: "cm-uid"}}
	orig, _ := json.Marshal(p)

	adopt, err := AdoptPatch(owner(false), rsKind, p.UID)
	if err != nil {
		t.Fatal(err)
	}
	adoptedJSON, err := strategicpatch.StrategicMergePatch(orig, adopt, &v1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	var adopted v1.Pod
	if err := json.Unmarshal(adoptedJSON, &adopted); err != nil {
		t.Fatal(err)
	}
	ref := metav1.GetControllerOf(&adopted)
	if ref == nil || ref.UID != "rs-uid" || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || ref.Name != "web" ||
		ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Fatalf("after adoption controller ref = %+v", ref)
	}
	if len(adopted.OwnerReferences) != 2 {
		t.Fatalf("adoption must keep other owner references, got %+v", adopted.OwnerReferences)
	}

	release, err := ReleasePatch(p.UID, "rs-uid")
	if err != nil {
		t.Fatal(err)
	}
	releasedJSON, err := strategicpatch.StrategicMergePatch(adoptedJSON, release, &v1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	var released v1.Pod
	if err := json.Unmarshal(releasedJSON, &released); err != nil {
		t.Fatal(err)
	}
	if metav1.GetControllerOf(&released) != nil || len(released.OwnerReferences) != 1 || released.OwnerReferences[0].UID != "cm-uid" {
		t.Fatalf("after release owner references = %+v", released.OwnerReferences)
	}
}
