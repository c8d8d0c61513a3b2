package controller

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestDeadlinesKeepTheEarliestPerKey(t *testing.T) {
	tests := []struct {
		name   string
		delays []time.Duration
		due    time.Duration // when the key is added
	}{
		{name: "a later deadline leaves the earlier one", delays: []time.Duration{time.Minute, 2 * time.Minute}, due: time.Minute},
		{name: "an earlier deadline replaces the later one", delays: []time.Duration{2 * time.Minute, time.Minute}, due: time.Minute},
		{name: "the same deadline twice is one", delays: []time.Duration{time.Minute, time.Minute}, due: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
			added := make(chan string, 10)
			d := newDeadlines(clk, func(k string) { added <- k })
			for _, delay := range tt.delays {
				d.after("k", delay)
			}
			clk.Step(tt.due - time.Second)
			if n := len(added); n != 0 {
				t.Fatalf("key added a second before its deadline")
			}
			clk.Step(time.Second)
			recv(t, "the key added when due", added)
			clk.Step(time.Hour)
			d.stop()
			if n := len(added); n != 0 {
				t.Errorf("key added %d more times after its deadline", n)
			}
		})
	}
}

func TestDeadlinesAddNowWithoutDelay(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	var added []string
	d := newDeadlines(clk, func(k string) { added = append(added, k) })
	d.after("now", 0)
	if len(added) != 1 {
		t.Errorf("a zero delay added %v, want the key at once", added)
	}
	d.stop()
}

func TestDeadlinesStopDropsPending(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	added := make(chan string, 10)
	d := newDeadlines(clk, func(k string) { added <- k })
	d.after("k", time.Minute)
	d.stop()
	d.after("late", time.Minute)
	clk.Step(time.Hour)
	if clk.HasWaiters() {
		t.Error("a timer is still pending after stop")
	}
	if n := len(added); n != 0 {
		t.Errorf("%d keys added after stop", n)
	}
}
