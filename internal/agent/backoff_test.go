package agent

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// TestBackoffCrashLoop follows a container that crashes right after every start: the first
// restart is immediate, then the waits double from 10 s up to 5 min, and ten minutes of
// running reset it.
func TestBackoffCrashLoop(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	b := newBackoff(10*time.Second, 5*time.Minute, clk)
	const key = "uid/nodejs"

	if in, _ := b.InBackoffSince(key, clk.Now()); in {
		t.Fatal("first crash: in back-off, want an immediate restart")
	}
	b.Next(key, clk.Now())

	var waits []time.Duration
	for i := 0; i < 7; i++ {
		crash := clk.Now()
		in, left := b.InBackoffSince(key, crash)
		if !in {
			t.Fatalf("crash %d: not in back-off", i+2)
		}
		waits = append(waits, left)
		clk.Step(left)
		if in, _ := b.InBackoffSince(key, crash); in {
			t.Fatalf("crash %d: still in back-off after waiting %s", i+2, left)
		}
		b.Next(key, crash)
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}

	// A container that then runs for more than ten minutes starts over.
	clk.Step(11 * time.Minute)
	if in, _ := b.InBackoffSince(key, clk.Now()); in {
		t.Error("after 11 minutes of running: still in back-off")
	}
	b.Next(key, clk.Now())
	if d := b.Delay(key); d != 10*time.Second {
		t.Errorf("delay after reset %s, want 10s", d)
	}
}
