package agent

import (
	"testing"
	"time"
)

func TestCPUHistoryRate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64, cpu time.Duration) cpuReading {
		return cpuReading{at: t0.Add(time.Duration(s * float64(time.Second))), cpu: cpu}
	}
	tests := []struct {
		name       string
		prev, last cpuReading
		now        cpuReading
		cores      float64
		window     time.Duration
		ok         bool
	}{
		{name: "no reading yet", now: at(10, time.Second)},
		{name: "half a core over 10s from the last reading", last: at(0, 0), now: at(10, 5*time.Second), cores: 0.5, window: 10 * time.Second, ok: true},
		{name: "a last reading under a second old falls back to the one before",
			prev: at(0, 0), last: at(9.5, 4*time.Second), now: at(10, 5*time.Second), cores: 0.5, window: 10 * time.Second, ok: true},
		{name: "only a reading under a second old", last: at(9.5, 0), now: at(10, time.Second)},
		{name: "a counter that went back (a restarted process) reads as idle", last: at(0, 5*time.Second), now: at(2, time.Second), cores: 0, window: 2 * time.Second, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := cpuHistory{prev: tt.prev, last: tt.last}
			cores, window, ok := h.rate(tt.now)
			if ok != tt.ok || cores != tt.cores || window != tt.window {
				t.Errorf("rate = %v cores over %v (%v), want %v over %v (%v)", cores, window, ok, tt.cores, tt.window, tt.ok)
			}
		})
	}
}
