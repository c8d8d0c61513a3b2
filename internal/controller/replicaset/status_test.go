package replicaset

import (
	"errors"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func statusRS(replicas, minReady int32, conds ...appsv1.ReplicaSetCondition) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        ptr.To(replicas),
			MinReadySeconds: minReady,
			Template:        v1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "pod-template-hash": "abc"}}},
		},
		Status: appsv1.ReplicaSetStatus{Conditions: conds},
	}
}

func labeled(l map[string]string) podOpt { return func(p *v1.Pod) { p.Labels = l } }

func TestCalculateStatus(t *testing.T) {
	full := labeled(map[string]string{"app": "web", "pod-template-hash": "abc", "extra": "x"})
	partial := labeled(map[string]string{"app": "web"})
	failure := appsv1.ReplicaSetCondition{Type: appsv1.ReplicaSetReplicaFailure, Status: v1.ConditionTrue, Reason: "FailedCreate", Message: "old"}
	quota := errors.New(`pods "web-x" is forbidden: exceeded quota: q`)

	tests := []struct {
		name       string
		rs         *appsv1.ReplicaSet
		active     []*v1.Pod
		manageErr  error
		want       appsv1.ReplicaSetStatus
		wantReason string // of ReplicaFailure; "" when absent
	}{
		{
			name:   "pods carrying every template label are fully labeled",
			rs:     statusRS(2, 0),
			active: []*v1.Pod{mkPod("a", full), mkPod("b", partial)},
			want:   appsv1.ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 1},
		},
		{
			name:   "without minReadySeconds ready pods are available",
			rs:     statusRS(2, 0),
			active: []*v1.Pod{mkPod("a", readyFor(0)), mkPod("b")},
			want:   appsv1.ReplicaSetStatus{Replicas: 2, ReadyReplicas: 1, AvailableReplicas: 1},
		},
		{
			name:   "a pod ready for less than minReadySeconds is not available",
			rs:     statusRS(2, 10),
			active: []*v1.Pod{mkPod("a", readyFor(11*time.Second)), mkPod("b", readyFor(10*time.Second))},
			want:   appsv1.ReplicaSetStatus{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 1},
		},
		{
			name:       "a failed create while short of pods is FailedCreate",
			rs:         statusRS(3, 0),
			active:     []*v1.Pod{mkPod("a")},
			manageErr:  quota,
			want:       appsv1.ReplicaSetStatus{Replicas: 1},
			wantReason: "FailedCreate",
		},
		{
			name:       "a failed delete while over is FailedDelete",
			rs:         statusRS(0, 0),
			active:     []*v1.Pod{mkPod("a")},
			manageErr:  errors.New("boom"),
			want:       appsv1.ReplicaSetStatus{Replicas: 1},
			wantReason: "FailedDelete",
		},
		{
			name:       "an existing failure is kept as it was",
			rs:         statusRS(3, 0, failure),
			manageErr:  quota,
			want:       appsv1.ReplicaSetStatus{},
			wantReason: "FailedCreate",
		},
		{
			name: "a sync without error clears the failure",
			rs:   statusRS(3, 0, failure),
			want: appsv1.ReplicaSetStatus{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := calculateStatus(tt.rs, tt.active, nil, tt.manageErr, false, now)
			cond := getCondition(got, appsv1.ReplicaSetReplicaFailure)
			got.Conditions = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("status = %+v, want %+v", got, tt.want)
			}
			reason := ""
			if cond != nil {
				reason = cond.Reason
			}
			if reason != tt.wantReason {
				t.Errorf("ReplicaFailure reason = %q, want %q", reason, tt.wantReason)
			}
			if cond != nil && tt.manageErr != nil && len(tt.rs.Status.Conditions) == 0 && cond.Message != tt.manageErr.Error() {
				t.Errorf("ReplicaFailure message = %q, want the error", cond.Message)
			}
		})
	}
}

func TestCalculateStatusTerminating(t *testing.T) {
	got := calculateStatus(statusRS(1, 0), nil, []*v1.Pod{mkPod("a")}, nil, true, now)
	if got.TerminatingReplicas == nil || *got.TerminatingReplicas != 1 {
		t.Errorf("terminatingReplicas = %v, want 1", got.TerminatingReplicas)
	}
	if got := calculateStatus(statusRS(1, 0), nil, []*v1.Pod{mkPod("a")}, nil, false, now); got.TerminatingReplicas != nil {
		t.Errorf("a kind without the field reports terminatingReplicas %v", *got.TerminatingReplicas)
	}
}

func TestNextAvailable(t *testing.T) {
	tests := []struct {
		name     string
		minReady int32
		active   []*v1.Pod
		want     time.Duration
		wantOK   bool
	}{
		{name: "without minReadySeconds nothing waits", minReady: 0, active: []*v1.Pod{mkPod("a", readyFor(0))}},
		{name: "pods not ready wait for an event, not the clock", minReady: 10, active: []*v1.Pod{mkPod("a")}},
		{name: "available pods need no re-check", minReady: 10, active: []*v1.Pod{mkPod("a", readyFor(time.Minute))}},
		{
			name:     "the earliest pod to become available decides, plus a second of skew",
			minReady: 10,
			active:   []*v1.Pod{mkPod("a", readyFor(2*time.Second)), mkPod("b", readyFor(7*time.Second))},
			want:     4 * time.Second, wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := nextAvailable(tt.minReady, tt.active, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("nextAvailable = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
