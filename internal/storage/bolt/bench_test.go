package bolt

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// benchValue is the size of a typical stored object (a pod is 1-2 KiB).
const benchValueSize = 1536

// latencies records per-operation durations and reports their percentiles.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d ...time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, name string) {
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	pct := func(p float64) float64 {
		return float64(l.d[int(p*float64(len(l.d)-1))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(0.50), name+"-p50-µs")
	b.ReportMetric(pct(0.99), name+"-p99-µs")
}

func openBench(b *testing.B) *Store {
	b.Helper()
	s, _ := openTest(b, Options{CompactInterval: -1, Log: slog.New(slog.DiscardHandler)})
	return s
}

func benchKey(i int) string { return fmt.Sprintf("/registry/pods/default/pod-%08d", i) }

func BenchmarkCreate(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	value := make([]byte, benchValueSize)
	var lat latencies
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := s.Create(ctx, benchKey(i), value); err != nil {
			b.Fatal(err)
		}
		lat.d = append(lat.d, time.Since(start))
		i++
	}
	lat.report(b, "create")
}

func BenchmarkCreateParallel(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	value := make([]byte, benchValueSize)
	var (
		lat  latencies
		next atomic.Int64
	)
	b.SetParallelism(16) // 16 x GOMAXPROCS writers: what a busy API server sends
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			if _, err := s.Create(ctx, benchKey(int(next.Add(1))), value); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		lat.add(mine...)
	})
	lat.report(b, "create")
	rev, _ := s.Revision(ctx)
	b.ReportMetric(float64(rev)/float64(s.commits.Load()), "writes/commit")
}

// fill creates n keys of benchValueSize bytes, group-committed, and returns them.
func fill(b *testing.B, s *Store, n int) []string {
	b.Helper()
	writeN(b, s, n, benchValueSize)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("/registry/pods/default/p%06d", i)
	}
	return keys
}

func BenchmarkGet(b *testing.B) {
	s := openBench(b)
	keys := fill(b, s, 1000)
	ctx := context.Background()
	var lat latencies
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := s.Get(ctx, keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
		lat.d = append(lat.d, time.Since(start))
		i++
	}
	lat.report(b, "get")
}

func BenchmarkUpdate(b *testing.B) {
	s := openBench(b)
	keys := fill(b, s, 1000)
	ctx := context.Background()
	value := make([]byte, benchValueSize)
	var lat latencies
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := s.Update(ctx, keys[i%len(keys)], value, 0); err != nil {
			b.Fatal(err)
		}
		lat.d = append(lat.d, time.Since(start))
		i++
	}
	lat.report(b, "update")
}

func BenchmarkList1000(b *testing.B) {
	s := openBench(b)
	fill(b, s, 1000)
	ctx := context.Background()
	var lat latencies
	for b.Loop() {
		start := time.Now()
		kvs, _, err := s.List(ctx, "/registry/pods/")
		if err != nil || len(kvs) != 1000 {
			b.Fatalf("List: %d keys, %v", len(kvs), err)
		}
		lat.d = append(lat.d, time.Since(start))
	}
	lat.report(b, "list")
}

// BenchmarkWatchFanout100 measures, per write, the time from calling Create to the last of
// 100 watchers receiving the event (so it includes the commit).
func BenchmarkWatchFanout100(b *testing.B) {
	const watchers = 100
	s := openBench(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	received := make(chan struct{}, watchers)
	var wg sync.WaitGroup
	for range watchers {
		ch, err := s.Watch(ctx, "/registry/", 0)
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			for range ch {
				received <- struct{}{}
			}
		})
	}
	value := make([]byte, benchValueSize)
	var lat latencies
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := s.Create(ctx, benchKey(i), value); err != nil {
			b.Fatal(err)
		}
		for range watchers {
			<-received
		}
		lat.d = append(lat.d, time.Since(start))
		i++
	}
	lat.report(b, "fanout")
	cancel()
	wg.Wait()
}

// BenchmarkFdatasync4K is the reference for the write benchmarks: one 4 KiB overwrite and
// fdatasync on the same disk. A bbolt commit costs two of these (pages, then meta page).
func BenchmarkFdatasync4K(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "sync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	if _, err := f.Write(page); err != nil {
		b.Fatal(err)
	}
	var lat latencies
	for b.Loop() {
		start := time.Now()
		if _, err := f.WriteAt(page, 0); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		lat.d = append(lat.d, time.Since(start))
	}
	lat.report(b, "fdatasync")
}
