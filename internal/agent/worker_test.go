package agent

import (
	"slices"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// TestWakeAfterKeepsTheEarliestDeadline asks for wake-ups at several moments and records when
// the worker is woken, on a fake clock stepped one second at a time.
func TestWakeAfterKeepsTheEarliestDeadline(t *testing.T) {
	type request struct{ at, after time.Duration } // at: when it is asked; after: its delay
	s := time.Second
	tests := []struct {
		name     string
		requests []request
		want     []time.Duration // when the worker is woken
	}{
		{"one request", []request{{0, 10 * s}}, []time.Duration{10 * s}},
		{"a later request does not push back an earlier one", []request{{0, 10 * s}, {0, 20 * s}}, []time.Duration{10 * s}},
		{"an earlier request replaces a later one", []request{{0, 20 * s}, {0, 10 * s}}, []time.Duration{10 * s}},
		{"asked again later for a deadline past the pending one", []request{{0, 10 * s}, {5 * s, 10 * s}}, []time.Duration{10 * s}},
		{"asked again later for a deadline before the pending one", []request{{0, 10 * s}, {5 * s, 3 * s}}, []time.Duration{8 * s}},
		{"the same deadline twice wakes once", []request{{0, 10 * s}, {0, 10 * s}}, []time.Duration{10 * s}},
		{"a request after a wake-up fired is scheduled anew", []request{{0, 10 * s}, {10 * s, 5 * s}}, []time.Duration{10 * s, 15 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC))
			w := &podWorker{a: &Agent{clock: clk}, wake: make(chan struct{}, 1)}
			var woken []time.Duration
			for now := time.Duration(0); now <= 30*s; now += s {
				if now > 0 {
					clk.Step(s) // fires due wake-ups before returning
				}
				select {
				case <-w.wake:
					woken = append(woken, now)
				default:
				}
				for _, r := range tt.requests {
					if r.at == now {
						w.wakeAfter(r.after)
					}
				}
			}
			if !slices.Equal(woken, tt.want) {
				t.Errorf("woken at %v, want %v", woken, tt.want)
			}
		})
	}
}
