package replicaset

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestReplicaDelta(t *testing.T) {
	tests := []struct {
		name    string
		active  int
		desired int32
		burst   int
		want    int
	}{
		{name: "at the desired count nothing happens", active: 3, desired: 3, burst: 500, want: 0},
		{name: "missing pods are created", active: 1, desired: 3, burst: 500, want: 2},
		{name: "surplus pods are deleted", active: 5, desired: 3, burst: 500, want: -2},
		{name: "creations are capped at the burst", active: 0, desired: 1000, burst: 500, want: 500},
		{name: "deletions are capped at the burst", active: 1000, desired: 0, burst: 500, want: -500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replicaDelta(tt.active, tt.desired, tt.burst); got != tt.want {
				t.Errorf("replicaDelta(%d, %d, %d) = %d, want %d", tt.active, tt.desired, tt.burst, got, tt.want)
			}
		})
	}
}

func TestSlowStartBatch(t *testing.T) {
	tests := []struct {
		name          string
		count         int
		failFrom      int // calls numbered from 1; 0 means never fail
		wantCalls     int
		wantSuccesses int
		wantErr       bool
	}{
		{name: "all calls succeed in batches 1, 2, 4, 8", count: 15, wantCalls: 15, wantSuccesses: 15},
		{name: "the last batch is what remains", count: 10, wantCalls: 10, wantSuccesses: 10},
		{name: "a failing template costs a single request", count: 500, failFrom: 1, wantCalls: 1, wantSuccesses: 0, wantErr: true},
		{name: "a failure stops after the batch it happened in", count: 500, failFrom: 5, wantCalls: 7, wantSuccesses: 4, wantErr: true},
		{name: "nothing to do makes no calls", count: 0, wantCalls: 0, wantSuccesses: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			// Calls within a batch run concurrently, so which one fails is
			// decided by a counter: every call numbered failFrom or later fails.
			successes, err := slowStartBatch(tt.count, 1, func() error {
				n := calls.Add(1)
				if tt.failFrom > 0 && int(n) >= tt.failFrom {
					return errors.New("quota exceeded")
				}
				return nil
			})
			if int(calls.Load()) != tt.wantCalls || successes != tt.wantSuccesses || (err != nil) != tt.wantErr {
				t.Errorf("calls %d, successes %d, err %v; want %d, %d, error %v", calls.Load(), successes, err, tt.wantCalls, tt.wantSuccesses, tt.wantErr)
			}
		})
	}
}

var now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

type podOpt func(*v1.Pod)

func mkPod(name string, opts ...podOpt) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))},
		Spec:       v1.PodSpec{NodeName: "node-1", Containers: []v1.Container{{Name: "nodejs", Image: "luksa/kubia:v1"}}},
		Status:     v1.PodStatus{Phase: v1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func unscheduled(p *v1.Pod)       { p.Spec.NodeName = "" }
func onNode(n string) podOpt      { return func(p *v1.Pod) { p.Spec.NodeName = n } }
func phase(ph v1.PodPhase) podOpt { return func(p *v1.Pod) { p.Status.Phase = ph } }
func created(ago time.Duration) podOpt {
	return func(p *v1.Pod) { p.CreationTimestamp = metav1.NewTime(now.Add(-ago)) }
}
func readyFor(d time.Duration) podOpt {
	return func(p *v1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-d))})
	}
}
func restarted(n int32) podOpt {
	return func(p *v1.Pod) { p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "c", RestartCount: n}} }
}
func cost(c string) podOpt {
	return func(p *v1.Pod) { p.Annotations = map[string]string{v1.PodDeletionCost: c} }
}

func TestDeletionOrder(t *testing.T) {
	tests := []struct {
		name    string
		first   *v1.Pod // deleted first
		second  *v1.Pod
		related []*v1.Pod
	}{
		{name: "unassigned before assigned", first: mkPod("a", unscheduled, phase(v1.PodPending)), second: mkPod("b", phase(v1.PodPending))},
		{name: "pending before unknown", first: mkPod("a", phase(v1.PodPending)), second: mkPod("b", phase(v1.PodUnknown))},
		{name: "unknown before running", first: mkPod("a", phase(v1.PodUnknown)), second: mkPod("b")},
		{name: "not ready before ready", first: mkPod("a"), second: mkPod("b", readyFor(time.Hour))},
		{name: "lower deletion cost before higher", first: mkPod("a", readyFor(time.Minute), cost("-5")), second: mkPod("b", readyFor(time.Hour))},
		{name: "deletion cost outranks readiness time", first: mkPod("a", readyFor(time.Hour), cost("1")), second: mkPod("b", readyFor(time.Minute), cost("100"))},
		{name: "an invalid deletion cost counts as zero", first: mkPod("a", readyFor(time.Minute), cost("lots")), second: mkPod("b", readyFor(time.Hour), cost("1"))},
		{
			name:    "doubled up on a node before alone on one",
			first:   mkPod("a", onNode("busy"), readyFor(time.Hour)),
			second:  mkPod("b", onNode("quiet"), readyFor(time.Minute)),
			related: []*v1.Pod{mkPod("x", onNode("busy")), mkPod("y", onNode("busy"))},
		},
		{name: "ready for less time before ready for longer", first: mkPod("a", readyFor(time.Minute)), second: mkPod("b", readyFor(time.Hour))},
		{name: "more restarts before fewer", first: mkPod("a", restarted(5)), second: mkPod("b", restarted(1))},
		{name: "newer before older", first: mkPod("a", created(time.Minute)), second: mkPod("b", created(time.Hour))},
		{name: "no creation time before any creation time", first: mkPod("a", created(0), func(p *v1.Pod) { p.CreationTimestamp = metav1.Time{} }), second: mkPod("b", created(time.Second))},
		{
			// 40s and 60s are both between 2^35ns and 2^36ns old: the same
			// bucket, so the older pod "a" goes first by UID.
			name:   "ages within the same power of two fall back to the UID",
			first:  mkPod("a", created(60*time.Second)),
			second: mkPod("b", created(40*time.Second)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, order := range [][]*v1.Pod{{tt.first, tt.second}, {tt.second, tt.first}} {
				related := append([]*v1.Pod{tt.first, tt.second}, tt.related...)
				got := podsToDelete(order, related, 1, now)
				if got[0] != tt.first {
					t.Errorf("deleted %s first, want %s", got[0].Name, tt.first.Name)
				}
			}
		})
	}
}

func TestPodsToDeleteAll(t *testing.T) {
	pods := []*v1.Pod{mkPod("a"), mkPod("b")}
	if got := podsToDelete(pods, nil, 5, now); len(got) != 2 {
		t.Errorf("asked for more than there are: got %d pods, want all 2", len(got))
	}
}
