package probe

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// Kind is a probe's kind, as it appears in events ("Readiness probe failed: ...").
type Kind string

const (
	Readiness Kind = "Readiness"
	Liveness  Kind = "Liveness"
	Startup   Kind = "Startup"
)

// Initial is the result a kind of probe has before its first run: a container is not ready and
// not started until probed, but alive.
func Initial(k Kind) Result {
	switch k {
	case Readiness:
		return Failure
	case Liveness:
		return Success
	}
	return Unknown
}

// Tracker applies success and failure thresholds to a series of probe results.
type Tracker struct {
	Result Result // the thresholded result
	last   Result // the last raw result
	run    int32  // how many times in a row last was seen
}

// NewTracker returns a tracker starting at k's initial result.
func NewTracker(k Kind) Tracker { return Tracker{Result: Initial(k)} }

// Observe records one probe result and reports whether the thresholded result changed: it
// becomes Success after successThreshold successes in a row and Failure after failureThreshold
// failures in a row (thresholds below 1 count as 1).
func (t *Tracker) Observe(r Result, successThreshold, failureThreshold int32) bool {
	if r == t.last {
		t.run++
	} else {
		t.last, t.run = r, 1
	}
	if successThreshold < 1 {
		successThreshold = 1
	}
	if failureThreshold < 1 {
		failureThreshold = 1
	}
	if (r == Failure && t.run < failureThreshold) || (r == Success && t.run < successThreshold) || r == Unknown {
		return false
	}
	if t.Result == r {
		return false
	}
	t.Result = r
	return true
}

// Worker probes one container periodically. Configure its fields and call Run.
type Worker struct {
	Kind  Kind
	Probe *corev1.Probe
	// Check runs the probe once; nil means Run(ctx, Probe, Target).
	Check  func(ctx context.Context) (Result, string)
	Target Target
	// StartedAt is when the container started; the first probe runs initialDelaySeconds after.
	StartedAt time.Time
	Clock     clock.Clock
	// Gate, if set, must return true for a probe to run (liveness and readiness wait for the
	// startup probe to succeed).
	Gate func() bool
	// OnResult is called when the thresholded result changes.
	OnResult func(Result)
	// OnFailure is called after every failed run with its message.
	OnFailure func(msg string)
}

// Run probes until ctx ends, or (for liveness and startup probes) until the result turns to
// Failure: the container is restarted then and a new worker probes the new one. A startup
// probe also stops once it succeeds.
func (w *Worker) Run(ctx context.Context) {
	clk := w.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	check := w.Check
	if check == nil {
		check = func(ctx context.Context) (Result, string) { return Run(ctx, w.Probe, w.Target) }
	}
	period := time.Duration(w.Probe.PeriodSeconds) * time.Second
	if period <= 0 {
		period = 10 * time.Second
	}
	first := w.StartedAt.Add(time.Duration(w.Probe.InitialDelaySeconds) * time.Second)
	wait := first.Sub(clk.Now())
	t := NewTracker(w.Kind)
	for {
		if wait > 0 {
			timer := clk.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C():
			}
		} else if ctx.Err() != nil {
			return
		}
		wait = period
		if w.Gate != nil && !w.Gate() {
			continue
		}
		r, msg := check(ctx)
		if ctx.Err() != nil {
			return // stopped while probing: the result is about a container going away
		}
		if r == Failure && w.OnFailure != nil {
			w.OnFailure(msg)
		}
		if t.Observe(r, w.Probe.SuccessThreshold, w.Probe.FailureThreshold) && w.OnResult != nil {
			w.OnResult(t.Result)
		}
		if w.Kind != Readiness && (t.Result == Failure || (w.Kind == Startup && t.Result == Success)) {
			return
		}
	}
}
