package probe

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestTrackerThresholds(t *testing.T) {
	S, F := Success, Failure
	tests := []struct {
		name             string
		kind             Kind
		success, failure int32
		results          []Result
		want             []Result // thresholded result after each observation
	}{
		{"readiness starts failed and turns ready on the first success", Readiness, 1, 3,
			[]Result{S}, []Result{S}},
		{"readiness needs successThreshold successes in a row", Readiness, 2, 3,
			[]Result{S, F, S, S}, []Result{F, F, F, S}},
		{"readiness turns unready after failureThreshold failures in a row", Readiness, 1, 3,
			[]Result{S, F, F, S, F, F, F}, []Result{S, S, S, S, S, S, F}},
		{"liveness starts alive and fails after three failures", Liveness, 1, 3,
			[]Result{F, F, F}, []Result{S, S, F}},
		{"liveness with failureThreshold 1 fails at once", Liveness, 1, 1,
			[]Result{F}, []Result{F}},
		{"startup starts unknown", Startup, 1, 2,
			[]Result{F, S}, []Result{Unknown, S}},
		{"zero thresholds count as one", Readiness, 0, 0,
			[]Result{S, F}, []Result{S, F}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(tt.kind)
			for i, r := range tt.results {
				tr.Observe(r, tt.success, tt.failure)
				if tr.Result != tt.want[i] {
					t.Fatalf("after result %d (%v): got %v, want %v", i, r, tr.Result, tt.want[i])
				}
			}
		})
	}
}

// TestWorkerSchedule checks initialDelaySeconds, periodSeconds and that a liveness worker stops
// after reporting failure, on a fake clock; synctest.Wait tells when the worker waits on it.
func TestWorkerSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		clk := clocktesting.NewFakeClock(start)
		var mu sync.Mutex
		var probedAt []time.Duration
		var failures []string
		results := make(chan Result, 10)
		w := &Worker{
			Kind:      Liveness,
			Probe:     &corev1.Probe{InitialDelaySeconds: 15, PeriodSeconds: 5, FailureThreshold: 2, SuccessThreshold: 1},
			StartedAt: start,
			Clock:     clk,
			Check: func(context.Context) (Result, string) {
				mu.Lock()
				defer mu.Unlock()
				probedAt = append(probedAt, clk.Since(start))
				return Failure, "HTTP probe failed with statuscode: 500"
			},
			OnResult:  func(r Result) { results <- r },
			OnFailure: func(m string) { mu.Lock(); failures = append(failures, m); mu.Unlock() },
		}
		done := make(chan struct{})
		go func() { w.Run(context.Background()); close(done) }()

		step := func(d time.Duration) {
			t.Helper()
			synctest.Wait()
			if !clk.HasWaiters() {
				t.Fatal("worker never waited on the clock")
			}
			clk.Step(d)
		}
		step(14 * time.Second) // not yet
		synctest.Wait()
		mu.Lock()
		if len(probedAt) != 0 {
			t.Fatalf("probed before initialDelaySeconds: %v", probedAt)
		}
		mu.Unlock()
		step(time.Second) // 15s: first probe
		step(5 * time.Second)
		synctest.Wait()
		select {
		case r := <-results:
			if r != Failure {
				t.Fatalf("result %v, want failure", r)
			}
		default:
			t.Fatal("no failure reported after two failed probes")
		}
		select {
		case <-done:
		default:
			t.Fatal("liveness worker kept running after reporting failure")
		}
		mu.Lock()
		defer mu.Unlock()
		want := []time.Duration{15 * time.Second, 20 * time.Second}
		if len(probedAt) != len(want) || probedAt[0] != want[0] || probedAt[1] != want[1] {
			t.Errorf("probed at %v, want %v", probedAt, want)
		}
		if len(failures) != 2 {
			t.Errorf("%d failure callbacks, want 2 (one per failed probe)", len(failures))
		}
	})
}
