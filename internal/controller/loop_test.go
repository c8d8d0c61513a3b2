package controller

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// waitTimeout bounds every wait below; a test that waits longer has failed.
const waitTimeout = 10 * time.Second

// limiter is a rate limiter without delays that counts what the loop asks of it and reports
// every Forget on forgot.
type limiter struct {
	mu       sync.Mutex // guards requeues
	requeues map[string]int
	forgot   chan string
}

func newLimiter() *limiter {
	return &limiter{requeues: map[string]int{}, forgot: make(chan string, 100)}
}

func (r *limiter) When(key string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requeues[key]++
	return 0
}

func (r *limiter) NumRequeues(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requeues[key]
}

func (r *limiter) Forget(key string) {
	r.mu.Lock()
	delete(r.requeues, key)
	r.mu.Unlock()
	r.forgot <- key
}

// timerClock is a fake clock that reports each timer it creates on timers.
type timerClock struct {
	*clocktesting.FakeClock
	timers chan time.Duration
}

func (c *timerClock) NewTimer(d time.Duration) clock.Timer {
	t := c.FakeClock.NewTimer(d)
	c.timers <- d
	return t
}

func recv[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// start runs l until the test ends and fails the test if Run returns an error.
func start(t *testing.T, l *Loop[string], workers int, synced ...cache.InformerSynced) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, workers, synced...) }()
	t.Cleanup(func() {
		cancel()
		if err := recv(t, "Run to return", done); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestLoopRetriesThenDrops(t *testing.T) {
	rl := newLimiter()
	calls := make(chan string, 100)
	l := New(Config[string]{Name: "test", Log: quiet(), RateLimiter: rl, MaxRetries: 3,
		Sync: func(_ context.Context, key string) error {
			calls <- key
			if key == "failing" {
				return errors.New("boom")
			}
			return nil
		}})
	start(t, l, 1)

	l.Add("failing")
	for i := range 4 {
		if got := recv(t, "a sync", calls); got != "failing" {
			t.Fatalf("sync %d got key %q, want failing", i+1, got)
		}
	}
	if got := recv(t, "the failing key to be dropped", rl.forgot); got != "failing" {
		t.Fatalf("forgot %q, want failing", got)
	}
	// One worker takes keys in order: a retry of the dropped key would come before this one.
	l.Add("next")
	if got := recv(t, "the next key's sync", calls); got != "next" {
		t.Fatalf("after the drop, synced %q, want next (the dropped key was retried)", got)
	}
	if got := rl.NumRequeues("failing"); got != 0 {
		t.Errorf("dropped key still counts %d requeues", got)
	}
}

func TestLoopRetriesForEverWithoutMaxRetries(t *testing.T) {
	rl := newLimiter()
	var failures atomic.Int64
	calls := make(chan string, 100)
	l := New(Config[string]{Name: "test", Log: quiet(), RateLimiter: rl,
		Sync: func(_ context.Context, key string) error {
			calls <- key
			if failures.Add(1) <= 20 {
				return errors.New("boom")
			}
			return nil
		}})
	start(t, l, 1)

	l.Add("a")
	recv(t, "the key forgotten after its first success", rl.forgot)
	if got := len(calls); got != 21 {
		t.Errorf("synced %d times, want 20 failures and a success", got)
	}
}

func TestLoopForgetsOnSuccess(t *testing.T) {
	rl := newLimiter()
	var failed atomic.Bool
	calls := make(chan string, 100)
	l := New(Config[string]{Name: "test", Log: quiet(), RateLimiter: rl, MaxRetries: 15,
		Sync: func(_ context.Context, key string) error {
			calls <- key
			if failed.CompareAndSwap(false, true) {
				return errors.New("once")
			}
			return nil
		}})
	start(t, l, 1)

	l.Add("a")
	recv(t, "the failed sync", calls)
	recv(t, "the retry", calls)
	if got := recv(t, "a Forget", rl.forgot); got != "a" {
		t.Fatalf("forgot %q, want a", got)
	}
	if got := rl.NumRequeues("a"); got != 0 {
		t.Errorf("after a success NumRequeues = %d, want 0", got)
	}
}

func TestLoopAddAfterRequeuesWhenDue(t *testing.T) {
	clk := &timerClock{FakeClock: clocktesting.NewFakeClock(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)), timers: make(chan time.Duration, 10)}
	calls := make(chan int, 10)
	var n atomic.Int64
	var l *Loop[string]
	l = New(Config[string]{Name: "test", Log: quiet(), Clock: clk,
		Sync: func(_ context.Context, key string) error {
			i := int(n.Add(1))
			if i == 1 {
				l.AddAfter(key, time.Minute)
			}
			calls <- i
			return nil
		}})
	start(t, l, 1)

	l.Add("a")
	recv(t, "the first sync", calls)
	if d := recv(t, "a timer for the due key", clk.timers); d != time.Minute {
		t.Fatalf("timer for %v, want 1m", d)
	}
	clk.Step(time.Minute)
	if got := recv(t, "the sync when due", calls); got != 2 {
		t.Fatalf("sync #%d, want #2", got)
	}
}

func TestLoopRunsPrepareAfterCachesSync(t *testing.T) {
	ready := make(chan struct{})
	synced := func() bool {
		select {
		case <-ready:
			return true
		default:
			return false
		}
	}
	var prepared atomic.Bool
	calls := make(chan bool, 10) // whether Prepare had run at each sync
	var l *Loop[string]
	l = New(Config[string]{Name: "test", Log: quiet(),
		Prepare: func(context.Context) {
			prepared.Store(true)
			l.Add("seeded")
		},
		Sync: func(context.Context, string) error {
			calls <- prepared.Load()
			return nil
		}})
	l.Add("early")
	start(t, l, 2, synced)
	close(ready)
	for range 2 {
		if !recv(t, "a sync", calls) {
			t.Fatal("a key was synced before Prepare ran")
		}
	}
}

func TestLoopStopsWorkersWhenDone(t *testing.T) {
	var inFlight atomic.Int64
	started := make(chan struct{}, 10)
	l := New(Config[string]{Name: "test", Log: quiet(),
		Sync: func(ctx context.Context, _ string) error {
			inFlight.Add(1)
			defer inFlight.Add(-1)
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, 2) }()
	l.Add("a")
	l.Add("b")
	recv(t, "the first worker busy", started)
	recv(t, "the second worker busy", started)

	cancel()
	if err := recv(t, "Run to return", done); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := inFlight.Load(); n != 0 {
		t.Errorf("Run returned with %d syncs still running", n)
	}
	l.Add("late")
	if n := l.Len(); n != 0 {
		t.Errorf("a key added after Run returned is queued (Len %d)", n)
	}
}

func TestLoopGivesUpWhenCachesNeverSync(t *testing.T) {
	l := New(Config[string]{Name: "test", Log: quiet(), Sync: func(context.Context, string) error {
		t.Error("synced a key before the caches synced")
		return nil
	}})
	l.Add("a")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, 1, func() bool { return false }) }()
	cancel()
	if err := recv(t, "Run to return", done); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want an error wrapping context.Canceled", err)
	}
}
