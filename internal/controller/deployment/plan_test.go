package deployment

import (
	"slices"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestResolveFenceposts(t *testing.T) {
	tests := []struct {
		name            string
		surge, unavail  string
		desired         int32
		wantSurge       int32
		wantUnavailable int32
	}{
		{name: "maxSurge 25% of 3 rounds up to 1", surge: "25%", unavail: "25%", desired: 3, wantSurge: 1, wantUnavailable: 0},
		{name: "maxUnavailable 25% of 3 rounds down to 0", surge: "0", unavail: "25%", desired: 3, wantSurge: 0, wantUnavailable: 1},
		{name: "both 0 resolves maxUnavailable to 1", surge: "0", unavail: "0", desired: 3, wantSurge: 0, wantUnavailable: 1},
		{name: "both percentages rounding to 0 resolve maxUnavailable to 1", surge: "0%", unavail: "1%", desired: 10, wantSurge: 0, wantUnavailable: 1},
		{name: "25% of 10 is 3 extra and 2 unavailable", surge: "25%", unavail: "25%", desired: 10, wantSurge: 3, wantUnavailable: 2},
		{name: "25% of 100 is exactly 25 either way", surge: "25%", unavail: "25%", desired: 100, wantSurge: 25, wantUnavailable: 25},
		{name: "absolute values are taken as they are", surge: "2", unavail: "1", desired: 10, wantSurge: 2, wantUnavailable: 1},
		{name: "1% surge of 1 replica rounds up to 1", surge: "1%", unavail: "0%", desired: 1, wantSurge: 1, wantUnavailable: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, u := intstr.Parse(tt.surge), intstr.Parse(tt.unavail)
			surge, unavailable, err := resolveFenceposts(&s, &u, tt.desired)
			if err != nil {
				t.Fatal(err)
			}
			if surge != tt.wantSurge || unavailable != tt.wantUnavailable {
				t.Errorf("got surge %d unavailable %d, want %d and %d", surge, unavailable, tt.wantSurge, tt.wantUnavailable)
			}
		})
	}
}

func TestMaxUnavailable(t *testing.T) {
	tests := []struct {
		name string
		d    *appsv1.Deployment
		want int32
	}{
		{name: "never more than the replicas", d: deploy(2, "0", "5"), want: 2},
		{name: "zero replicas allow nothing", d: deploy(0, "25%", "25%"), want: 0},
		{name: "Recreate has no notion of it", d: recreate(3), want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maxUnavailable(tt.d); got != tt.want {
				t.Errorf("maxUnavailable = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestNewRSReplicas(t *testing.T) {
	tests := []struct {
		name  string
		d     *appsv1.Deployment
		olds  []*appsv1.ReplicaSet
		newRS *appsv1.ReplicaSet
		want  int32
	}{
		{
			name:  "a new rollout of 3 with 25% surge starts the new ReplicaSet at 1",
			d:     deploy(3, "25%", "25%"),
			olds:  []*appsv1.ReplicaSet{rs("v1", 3, 3, time.Hour)},
			newRS: rs("v2", 0, 0, 0),
			want:  1,
		},
		{
			name:  "no room above replicas+maxSurge keeps the size",
			d:     deploy(3, "1", "0"),
			olds:  []*appsv1.ReplicaSet{rs("v1", 3, 3, time.Hour)},
			newRS: rs("v2", 1, 0, 0),
			want:  1,
		},
		{
			name:  "the surge is used up as old replicas go",
			d:     deploy(10, "3", "2"),
			olds:  []*appsv1.ReplicaSet{rs("v1", 6, 6, time.Hour)},
			newRS: rs("v2", 5, 5, 0),
			want:  7,
		},
		{
			// Upstream counts spec only and would go to 2, briefly running
			// 5 pods while v1's controller catches up.
			name:  "pods of a scaled-down ReplicaSet count until they are deleted",
			d:     deploy(3, "1", "0"),
			olds:  []*appsv1.ReplicaSet{rs("v1", 2, 2, time.Hour, running(3))},
			newRS: rs("v2", 1, 1, 0),
			want:  1,
		},
		{
			name:  "never beyond spec.replicas",
			d:     deploy(3, "100%", "0"),
			olds:  []*appsv1.ReplicaSet{rs("v1", 1, 1, time.Hour)},
			newRS: rs("v2", 2, 2, 0),
			want:  3,
		},
		{
			name:  "the first ReplicaSet of a Deployment starts at full size",
			d:     deploy(3, "25%", "25%"),
			newRS: rs("v1", 0, 0, 0),
			want:  3,
		},
		{
			name:  "Recreate goes to spec.replicas at once",
			d:     recreate(5),
			olds:  []*appsv1.ReplicaSet{rs("v1", 0, 0, time.Hour)},
			newRS: rs("v2", 0, 0, 0),
			want:  5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newRSReplicas(tt.d, withNew(tt.olds, tt.newRS), tt.newRS)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("newRSReplicas = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestPlanOldScaleDown(t *testing.T) {
	tests := []struct {
		name  string
		d     *appsv1.Deployment
		olds  []*appsv1.ReplicaSet
		newRS *appsv1.ReplicaSet
		want  []string
	}{
		{
			name:  "with maxUnavailable 0 nothing goes until a new pod is available",
			d:     deploy(3, "1", "0"),
			olds:  []*appsv1.ReplicaSet{rs("v1", 3, 3, time.Hour)},
			newRS: rs("v2", 1, 0, 0),
		},
		{
			name:  "an available new pod lets one old one go",
			d:     deploy(3, "1", "0"),
			olds:  []*appsv1.ReplicaSet{rs("v1", 3, 3, time.Hour)},
			newRS: rs("v2", 1, 1, 0),
			want:  []string{"v1=2"},
		},
		{
			name:  "maxUnavailable lets old pods go before any new one is ready",
			d:     deploy(10, "0", "2"),
			olds:  []*appsv1.ReplicaSet{rs("v1", 10, 10, time.Hour)},
			newRS: rs("v2", 0, 0, 0),
			want:  []string{"v1=8"},
		},
		{
			name:  "unavailable new pods hold back the old ones",
			d:     deploy(10, "3", "2"),
			olds:  []*appsv1.ReplicaSet{rs("v1", 8, 8, time.Hour)},
			newRS: rs("v2", 5, 0, 0),
		},
		{
			name:  "unhealthy old replicas are cleaned up first, without costing availability",
			d:     deploy(10, "3", "2"),
			olds:  []*appsv1.ReplicaSet{rs("v1", 8, 8, 2*time.Hour), rs("v2", 5, 0, time.Hour)},
			newRS: rs("v3", 0, 0, 0),
			want:  []string{"v2=0"},
		},
		{
			// 5 replicas wanted, 4 must stay available: a budget of 1.
			name:  "cleanup is bounded by the budget, oldest first",
			d:     deploy(4, "1", "0"),
			olds:  []*appsv1.ReplicaSet{rs("v1", 2, 1, 2*time.Hour), rs("v2", 3, 1, time.Hour)},
			newRS: rs("v3", 0, 0, 0),
			want:  []string{"v1=1"},
		},
		{
			// Budget 6 - 3 - 0 = 3: the unhealthy pod goes (5 -> 4), then
			// 5 available - 3 minimum = 2 healthy ones (4 -> 2).
			name:  "cleanup then scale-down may touch one ReplicaSet twice",
			d:     deploy(4, "2", "1"),
			olds:  []*appsv1.ReplicaSet{rs("v1", 5, 4, time.Hour)},
			newRS: rs("v2", 1, 1, 0),
			want:  []string{"v1=4", "v1=2"},
		},
		{
			name:  "old ReplicaSets scale down oldest first",
			d:     deploy(4, "0", "2"),
			olds:  []*appsv1.ReplicaSet{rs("v2", 2, 2, time.Hour), rs("v1", 2, 2, 2*time.Hour)},
			newRS: rs("v3", 0, 0, 0),
			want:  []string{"v1=0"},
		},
		{
			name:  "a status showing more available than wanted is stale and waited out",
			d:     deploy(4, "0", "1"),
			olds:  []*appsv1.ReplicaSet{rs("v1", 2, 4, time.Hour)},
			newRS: rs("v2", 2, 0, 0),
		},
		{
			name:  "nothing to scale down when no old replicas are wanted",
			d:     deploy(3, "1", "0"),
			olds:  []*appsv1.ReplicaSet{},
			newRS: rs("v2", 3, 3, 0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := withNew(tt.olds, tt.newRS)
			got := sizes(planOldScaleDown(tt.d, all, filterActive(tt.olds), tt.newRS))
			if !slices.Equal(got, tt.want) {
				t.Errorf("steps %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPlanScale(t *testing.T) {
	desired := func(n int) rsOpt { return annotated(DesiredReplicasAnnotation, itoa(n)) }
	tests := []struct {
		name  string
		d     *appsv1.Deployment
		newRS *appsv1.ReplicaSet
		olds  []*appsv1.ReplicaSet
		want  []string
	}{
		{
			name:  "a single active ReplicaSet takes the new size",
			d:     deploy(5, "25%", "25%"),
			newRS: rs("v2", 3, 3, 0),
			olds:  []*appsv1.ReplicaSet{rs("v1", 0, 0, time.Hour)},
			want:  []string{"v2=5"},
		},
		{
			name: "with nothing active the newest ReplicaSet takes the size",
			d:    deploy(2, "25%", "25%"),
			olds: []*appsv1.ReplicaSet{rs("v1", 0, 0, 2*time.Hour), rs("v2", 0, 0, time.Hour)},
			want: []string{"v2=2"},
		},
		{
			name:  "a saturated new ReplicaSet scales the old ones to zero",
			d:     deploy(3, "25%", "25%"),
			newRS: rs("v2", 3, 3, 0, desired(3)),
			olds:  []*appsv1.ReplicaSet{rs("v1", 1, 1, time.Hour)},
			want:  []string{"v1=0"},
		},
		{
			// 10 replicas, maxSurge 3: old 8 and new 5 were sized for 13.
			// Scaling to 20 allows 23: 8*23/13 = 14.15 and 5*23/13 = 8.85,
			// so old +6 and new +4 (larger first).
			name:  "scaling up mid-rollout keeps the proportion of old to new",
			d:     deploy(20, "3", "2"),
			newRS: rs("v2", 5, 0, 0, maxReplicasWas(13)),
			olds:  []*appsv1.ReplicaSet{rs("v1", 8, 8, time.Hour, maxReplicasWas(13))},
			want:  []string{"v1=14", "v2=9"},
		},
		{
			// 13 -> 8 (5 + 3): 8*8/13 = 4.9 and 5*8/13 = 3.1, so -3 and -2,
			// the larger first.
			name:  "scaling down mid-rollout keeps the proportion too",
			d:     deploy(5, "3", "2"),
			newRS: rs("v2", 5, 0, 0, maxReplicasWas(13)),
			olds:  []*appsv1.ReplicaSet{rs("v1", 8, 8, time.Hour, maxReplicasWas(13))},
			want:  []string{"v1=5", "v2=3"},
		},
		{
			name:  "the rounding leftover goes to the largest ReplicaSet",
			d:     deploy(4, "0", "1"),
			newRS: rs("v2", 1, 0, 0, maxReplicasWas(3)),
			olds:  []*appsv1.ReplicaSet{rs("v1", 1, 1, 2*time.Hour, maxReplicasWas(3)), rs("v1b", 1, 1, time.Hour, maxReplicasWas(3))},
			want:  []string{"v2=2", "v1b=1", "v1=1"},
		},
		{
			name:  "scaling to zero empties every active ReplicaSet",
			d:     deploy(0, "3", "2"),
			newRS: rs("v2", 5, 0, 0, maxReplicasWas(13)),
			olds:  []*appsv1.ReplicaSet{rs("v1", 8, 8, time.Hour, maxReplicasWas(13))},
			want:  []string{"v1=0", "v2=0"},
		},
		{
			name:  "Recreate does not scale several active ReplicaSets",
			d:     recreate(5),
			newRS: rs("v2", 2, 0, 0),
			olds:  []*appsv1.ReplicaSet{rs("v1", 2, 2, time.Hour)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sizes(planScale(tt.d, tt.newRS, tt.olds))
			if !slices.Equal(got, tt.want) {
				t.Errorf("steps %v, want %v", got, tt.want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
