package deployment

import (
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPlanHistoryCleanup(t *testing.T) {
	deleting := func(r *appsv1.ReplicaSet) { r.DeletionTimestamp = &metav1.Time{Time: t0} }
	unobserved := func(r *appsv1.ReplicaSet) { r.Generation = 2; r.Status.ObservedGeneration = 1 }
	tests := []struct {
		name  string
		olds  []*appsv1.ReplicaSet
		limit int32
		want  []string
	}{
		{
			name:  "within the limit nothing is deleted",
			olds:  []*appsv1.ReplicaSet{rs("a", 0, 0, time.Hour, rev(1)), rs("b", 0, 0, time.Hour, rev(2))},
			limit: 2,
		},
		{
			name:  "beyond the limit the lowest revisions go first",
			olds:  []*appsv1.ReplicaSet{rs("c", 0, 0, time.Hour, rev(3)), rs("a", 0, 0, time.Hour, rev(1)), rs("b", 0, 0, time.Hour, rev(2))},
			limit: 1,
			want:  []string{"a", "b"},
		},
		{
			name:  "a limit of 0 keeps no old ReplicaSet",
			olds:  []*appsv1.ReplicaSet{rs("a", 0, 0, time.Hour, rev(1)), rs("b", 0, 0, time.Hour, rev(2))},
			limit: 0,
			want:  []string{"a", "b"},
		},
		{
			name:  "a ReplicaSet still wanting replicas is kept",
			olds:  []*appsv1.ReplicaSet{rs("a", 1, 1, time.Hour, rev(1)), rs("b", 0, 0, time.Hour, rev(2))},
			limit: 0,
			want:  []string{"b"},
		},
		{
			name:  "a ReplicaSet whose pods are still running is kept",
			olds:  []*appsv1.ReplicaSet{rs("a", 0, 0, time.Hour, rev(1), running(2)), rs("b", 0, 0, time.Hour, rev(2))},
			limit: 0,
			want:  []string{"b"},
		},
		{
			name:  "a ReplicaSet whose controller has not seen its scale-down is kept",
			olds:  []*appsv1.ReplicaSet{rs("a", 0, 0, time.Hour, rev(1), unobserved)},
			limit: 0,
		},
		{
			name:  "ReplicaSets already being deleted neither count nor are deleted again",
			olds:  []*appsv1.ReplicaSet{rs("a", 0, 0, time.Hour, rev(1), deleting), rs("b", 0, 0, time.Hour, rev(2))},
			limit: 1,
		},
		{
			name:  "equal revisions fall back to age",
			olds:  []*appsv1.ReplicaSet{rs("young", 0, 0, time.Minute), rs("old", 0, 0, time.Hour)},
			limit: 1,
			want:  []string{"old"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range planHistoryCleanup(tt.olds, tt.limit) {
				got = append(got, r.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("deleted %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSetNewReplicaSetAnnotations(t *testing.T) {
	d := deploy(3, "25%", "25%")
	d.Annotations = map[string]string{
		"kubernetes.io/change-cause": "kubectl set image deployment kubia nodejs=luksa/kubia:v2",
		"team":                       "web",
		RevisionAnnotation:           "7",
		"kubectl.kubernetes.io/last-applied-configuration": "{}",
	}
	tests := []struct {
		name        string
		rs          *appsv1.ReplicaSet
		newRevision string
		exists      bool
		wantChanged bool
		want        map[string]string // annotations expected, "" meaning absent
	}{
		{
			name:        "a new ReplicaSet gets the revision, the replica annotations and the Deployment's annotations",
			rs:          rs("v2", 0, 0, 0),
			newRevision: "2",
			wantChanged: true,
			want: map[string]string{
				RevisionAnnotation:           "2",
				DesiredReplicasAnnotation:    "3",
				MaxReplicasAnnotation:        "4",
				"kubernetes.io/change-cause": "kubectl set image deployment kubia nodejs=luksa/kubia:v2",
				"team":                       "web",
				"kubectl.kubernetes.io/last-applied-configuration": "",
				RevisionHistoryAnnotation:                          "",
			},
		},
		{
			name:        "rolling back to an old ReplicaSet moves its revision into revision-history",
			rs:          rs("v1", 0, 0, time.Hour, rev(1)),
			newRevision: "3",
			exists:      true,
			wantChanged: true,
			want:        map[string]string{RevisionAnnotation: "3", RevisionHistoryAnnotation: "1"},
		},
		{
			name:        "revision-history accumulates",
			rs:          rs("v1", 0, 0, time.Hour, rev(3), annotated(RevisionHistoryAnnotation, "1")),
			newRevision: "5",
			exists:      true,
			wantChanged: true,
			want:        map[string]string{RevisionAnnotation: "5", RevisionHistoryAnnotation: "1,3"},
		},
		{
			name:        "a higher revision than the computed one is kept",
			rs:          rs("v2", 0, 0, time.Hour, rev(9), annotated("team", "web"), annotated("kubernetes.io/change-cause", d.Annotations["kubernetes.io/change-cause"])),
			newRevision: "5",
			exists:      true,
			wantChanged: false,
			want:        map[string]string{RevisionAnnotation: "9", RevisionHistoryAnnotation: ""},
		},
		{
			name:        "an existing ReplicaSet's replica annotations are left to scaling",
			rs:          rs("v2", 0, 0, time.Hour, rev(2), annotated(DesiredReplicasAnnotation, "1")),
			newRevision: "2",
			exists:      true,
			wantChanged: true, // the Deployment's annotations were copied
			want:        map[string]string{DesiredReplicasAnnotation: "1", MaxReplicasAnnotation: ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed := setNewReplicaSetAnnotations(d, tt.rs, tt.newRevision, tt.exists)
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			for k, v := range tt.want {
				if got := tt.rs.Annotations[k]; got != v {
					t.Errorf("annotation %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestAppendRevisionHistory(t *testing.T) {
	tests := []struct {
		name, history, rev string
		limit              int
		want               string
	}{
		{name: "the first entry", history: "", rev: "1", limit: 2000, want: "1"},
		{name: "entries append in order", history: "1,3", rev: "5", limit: 2000, want: "1,3,5"},
		{name: "the oldest entry makes room", history: "1,3,5", rev: "7", limit: 5, want: "3,5,7"},
		{name: "as many old entries as needed make room", history: "1,3,5", rev: "7", limit: 4, want: "5,7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := appendRevisionHistory(tt.history, tt.rev, tt.limit); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	long := strings.Repeat("1,", 1500) + "1"
	if got := appendRevisionHistory(long, "2", maxRevisionHistoryChars); len(got) > maxRevisionHistoryChars || !strings.HasSuffix(got, ",2") {
		t.Errorf("history of %d chars ending %q", len(got), got[len(got)-4:])
	}
}
