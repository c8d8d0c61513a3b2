package process

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"
)

func TestParseStatCountsFieldsAfterTheCommandName(t *testing.T) {
	// A command name with spaces and a parenthesis, as a process may name itself.
	raw := []byte("4242 (my (odd) cmd) S 1 4240 4240 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 12345 10000000 321 18446744073709551615")
	st, err := parseStat(raw)
	if err != nil {
		t.Fatal(err)
	}
	if st.pgrp != 4240 || st.ticks != 310 || st.rssPages != 321 {
		t.Errorf("parseStat = %+v, want pgrp 4240, ticks 310, rss 321 pages", st)
	}
}

func TestUsageOfARunningContainer(t *testing.T) {
	rt, err := New(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	dir := t.TempDir()
	// A shell that keeps a busy child in its process group.
	id, err := rt.Start(context.Background(), Spec{
		Argv: []string{"/bin/sh", "-c", "while :; do :; done & wait"}, Env: []string{"PATH=/usr/bin:/bin"},
		Dir: dir, LogPath: filepath.Join(dir, "log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Stop(context.Background(), id, 0) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		u, ok := rt.Usage([]string{id, "unknown"})[id]
		if ok && u.CPU >= 50*time.Millisecond && u.Memory > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage of a busy container after 30s: %+v (reported: %v)", u, ok)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := rt.Usage([]string{"unknown"})["unknown"]; ok {
		t.Error("usage reported for an unknown container")
	}
}

func TestNodeUsage(t *testing.T) {
	u, err := ReadNodeUsage()
	if err != nil {
		t.Fatal(err)
	}
	if u.CPU <= 0 || u.Memory == 0 {
		t.Errorf("node usage %+v; want CPU and memory in use", u)
	}
	if _, err := readNodeUsage(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("no error without /proc")
	}
}
