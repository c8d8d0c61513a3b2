package deployment

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"
)

func TestPodTemplateHash(t *testing.T) {
	v1 := template("luksa/kubia:v1")
	tests := []struct {
		name      string
		collision *int32
		want      string
	}{
		// Pinned: a change here renames every ReplicaSet on upgrade, as an
		// upstream change to the hashing would.
		{name: "a known template gives a stable hash", want: "5dcc9b48b5"},
		// Like upstream's, a hash may have 9 characters: it is the decimal
		// FNV sum re-encoded character by character.
		{name: "collisionCount 0 is hashed too", collision: ptr.To[int32](0), want: "fdd6f98bf"},
		{name: "collisionCount 1 gives another hash", collision: ptr.To[int32](1), want: "7c5bb44776"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podTemplateHash(&v1, tt.collision); got != tt.want {
				t.Errorf("hash = %q, want %q", got, tt.want)
			}
		})
	}

	v2 := template("luksa/kubia:v2")
	if podTemplateHash(&v1, nil) == podTemplateHash(&v2, nil) {
		t.Error("different images hash the same")
	}
	for _, c := range podTemplateHash(&v1, nil) {
		if !(c >= 'b' && c <= 'z' || c >= '2' && c <= '9') || c == 'e' || c == 'a' {
			t.Errorf("hash %q has %q, outside SafeEncodeString's alphabet", podTemplateHash(&v1, nil), c)
		}
	}
}

func TestEqualIgnoreHash(t *testing.T) {
	a := template("luksa/kubia:v1")
	b := *a.DeepCopy()
	b.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = "6b87965bb8"
	if !equalIgnoreHash(&a, &b) {
		t.Error("the pod-template-hash label made templates differ")
	}
	if _, ok := a.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
		t.Error("equalIgnoreHash modified its argument")
	}
	c := template("luksa/kubia:v2")
	if equalIgnoreHash(&a, &c) {
		t.Error("templates with different images compare equal")
	}
}
