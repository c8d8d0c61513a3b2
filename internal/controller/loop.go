package controller

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Config configures a Loop. Sync is required; a zero field takes the default it names.
type Config[K comparable] struct {
	// Name names the queue in log lines and errors, e.g. "deployment".
	Name string
	// Log receives the loop's lines. Pass the component's logger, already scoped to it
	// (default slog.Default()).
	Log *slog.Logger
	// Sync brings what key names to its desired state. Success forgets the key's failures; an
	// error retries the key after the rate limiter's delay, up to MaxRetries.
	Sync func(ctx context.Context, key K) error
	// RateLimiter spaces the retries of a failing key (default
	// workqueue.DefaultTypedControllerRateLimiter: 5ms doubling to 1000s per key, and at most 10
	// retries a second, bursts of 100, over all keys).
	RateLimiter workqueue.TypedRateLimiter[K]
	// MaxRetries, when positive, drops a key that failed MaxRetries+1 times in a row: it is
	// synced again only when it is next added. Zero retries for ever.
	MaxRetries int
	// Clock measures the delays of AddAfter (default the wall clock). Retries always back off
	// on the wall clock, so a test stepping a fake clock moves deadlines, not back-off.
	Clock clock.WithTicker
	// LogLevel is the level a failed sync is logged at (default Warn), so that routine errors,
	// a conflict with a newer write say, can go to Debug.
	LogLevel func(error) slog.Level
	// Prepare, if set, runs once the caches have synced and before the first worker starts: to
	// queue keys that no event will bring, or to load from the caches what workers rely on.
	Prepare func(ctx context.Context)
}

// Loop is a queue of keys and the workers that sync them. Build it with New and run it once.
type Loop[K comparable] struct {
	cfg Config[K]
	// queue holds the keys to sync and retries failures with back-off on the wall clock.
	queue workqueue.TypedRateLimitingInterface[K]
	// due adds keys to queue when they fall due on cfg.Clock.
	due *deadlines[K]
}

// New returns a Loop configured by cfg. It panics if cfg.Sync is nil.
func New[K comparable](cfg Config[K]) *Loop[K] {
	if cfg.Sync == nil {
		panic("controller: Config.Sync is nil")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.RateLimiter == nil {
		cfg.RateLimiter = workqueue.DefaultTypedControllerRateLimiter[K]()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.LogLevel == nil {
		cfg.LogLevel = func(error) slog.Level { return slog.LevelWarn }
	}
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(cfg.RateLimiter, workqueue.TypedRateLimitingQueueConfig[K]{Name: cfg.Name})
	return &Loop[K]{cfg: cfg, queue: queue, due: newDeadlines(cfg.Clock, queue.Add)}
}

// Add queues key to be synced. A key already waiting is queued once; a key being synced is
// synced again after.
func (l *Loop[K]) Add(key K) { l.queue.Add(key) }

// AddAfter queues key once d has passed on the Loop's clock: for a deadline that no event
// marks. A d of zero or less queues it now; of two deadlines pending for a key, the earlier
// stands.
func (l *Loop[K]) AddAfter(key K, d time.Duration) { l.due.after(key, d) }

// AddRateLimited queues key after the rate limiter's delay and counts a failure against it, for
// a failure found outside Sync, or a Sync that wants to look again soon and back off if it keeps
// doing so. A Sync that then returns nil forgets the count.
func (l *Loop[K]) AddRateLimited(key K) { l.queue.AddRateLimited(key) }

// Len returns the number of keys waiting to be synced, not counting those being synced or not
// yet due.
func (l *Loop[K]) Len() int { return l.queue.Len() }

// Run waits until every cache in synced has synced, runs Prepare, then syncs keys with workers
// workers (at least one) until ctx is done. It returns once every worker has finished: nil, or
// an error if ctx was done before the caches synced. Keys added after Run returns are ignored.
func (l *Loop[K]) Run(ctx context.Context, workers int, synced ...cache.InformerSynced) error {
	defer l.queue.ShutDown()
	defer l.due.stop()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("%s: waiting for caches to sync: %w", l.cfg.Name, ctx.Err())
	}
	if l.cfg.Prepare != nil {
		l.cfg.Prepare(ctx)
	}
	workers = max(workers, 1)
	l.cfg.Log.Info("starting workers", "queue", l.cfg.Name, "workers", workers)
	defer l.cfg.Log.Info("workers stopped", "queue", l.cfg.Name)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for l.processNext(ctx) {
			}
		})
	}
	<-ctx.Done()
	l.queue.ShutDown()
	l.due.stop()
	wg.Wait()
	return nil
}

// processNext syncs one key: Get → Sync → Forget, retry or drop → Done. It returns false once
// the queue has shut down.
func (l *Loop[K]) processNext(ctx context.Context) bool {
	key, quit := l.queue.Get()
	if quit {
		return false
	}
	defer l.queue.Done(key)
	err := l.cfg.Sync(ctx, key)
	switch {
	case err == nil:
		l.queue.Forget(key)
	case ctx.Err() != nil:
		// Stopping: the error is most likely the cancellation itself, and nothing is retried.
		l.queue.Forget(key)
	case l.cfg.MaxRetries > 0 && l.queue.NumRequeues(key) >= l.cfg.MaxRetries:
		l.cfg.Log.Warn("dropping key out of the queue", "queue", l.cfg.Name, "key", key,
			"retries", l.queue.NumRequeues(key), "err", err)
		l.queue.Forget(key)
	default:
		l.cfg.Log.Log(ctx, l.cfg.LogLevel(err), "sync failed, requeueing", "queue", l.cfg.Name, "key", key, "err", err)
		l.queue.AddRateLimited(key)
	}
	return true
}
