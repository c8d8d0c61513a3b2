package deployment

import (
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"
)

func TestFloorOldScaleDown(t *testing.T) {
	a, b := rs("a", 4, 4, time.Hour), rs("b", 1, 0, time.Minute)
	tests := []struct {
		name  string
		olds  []*appsv1.ReplicaSet
		steps []scaleStep
		floor int32
		want  []string
	}{
		{name: "within the floor: unchanged", olds: []*appsv1.ReplicaSet{a}, steps: []scaleStep{{rs: a, replicas: 3}}, floor: 3, want: []string{"a=3"}},
		{name: "maxUnavailable would drop to 2: kept at 3", olds: []*appsv1.ReplicaSet{a}, steps: []scaleStep{{rs: a, replicas: 2}}, floor: 3, want: []string{"a=3"}},
		{name: "at the floor already: nothing", olds: []*appsv1.ReplicaSet{rs("a", 3, 3, time.Hour)}, steps: []scaleStep{{rs: rs("a", 3, 3, time.Hour), replicas: 2}}, floor: 3, want: nil},
		{name: "the unhealthy pod goes first, the healthy cut is trimmed", olds: []*appsv1.ReplicaSet{a, b},
			steps: []scaleStep{{rs: b, replicas: 0}, {rs: a, replicas: 2}}, floor: 3, want: []string{"b=0", "a=3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sizes(floorOldScaleDown(tt.steps, tt.olds, tt.floor)); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPlanCanaryScale(t *testing.T) {
	tests := []struct {
		name     string
		replicas int32
		newRS    *appsv1.ReplicaSet
		olds     []*appsv1.ReplicaSet
		newCount int32
		want     []string
	}{
		{name: "held at 25% of 4, scaled to 8: 2 new, 6 old", replicas: 8,
			newRS: rs("new", 1, 1, time.Minute), olds: []*appsv1.ReplicaSet{rs("old", 3, 3, time.Hour)}, newCount: 2, want: []string{"new=2", "old=6"}},
		{name: "scaled down to 3: 1 new, 2 old", replicas: 3,
			newRS: rs("new", 2, 2, time.Minute), olds: []*appsv1.ReplicaSet{rs("old", 6, 6, time.Hour)}, newCount: 1, want: []string{"new=1", "old=2"}},
		{name: "two old sets share the rest by size, the larger takes the remainder", replicas: 10,
			newRS: rs("new", 1, 1, time.Minute), olds: []*appsv1.ReplicaSet{rs("v1", 2, 2, time.Hour), rs("v2", 1, 1, 30*time.Minute)}, newCount: 3,
			want: []string{"new=3", "v1=5", "v2=2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deploy(tt.replicas, "1", "0")
			d.Spec.Replicas = ptr.To(tt.replicas)
			if got := sizes(planCanaryScale(d, tt.newRS, tt.olds, tt.newCount)); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
