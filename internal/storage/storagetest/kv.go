package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/skiff-dev/skiff/internal/storage"
)

func testCreate(t *testing.T, s storage.Store) {
	rev := mustCreate(t, s, "/registry/pods/default/a", "v1")
	if rev <= 0 {
		t.Fatalf("Create returned revision %d, want > 0", rev)
	}
	kv := mustGet(t, s, "/registry/pods/default/a")
	want := storage.KeyValue{Key: "/registry/pods/default/a", Value: []byte("v1"), CreateRevision: rev, ModRevision: rev}
	if !equalKV(kv, want) {
		t.Fatalf("Get = %s, want %s", fmtKV(kv), fmtKV(want))
	}
}

func testCreateExists(t *testing.T, s storage.Store) {
	rev := mustCreate(t, s, "/registry/pods/default/a", "v1")
	if _, err := s.Create(ctxFor(t), "/registry/pods/default/a", []byte("v2")); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second Create: err = %v, want ErrExists", err)
	}
	if kv := mustGet(t, s, "/registry/pods/default/a"); string(kv.Value) != "v1" || kv.ModRevision != rev {
		t.Fatalf("after refused Create, Get = %s, want v1 at %d", fmtKV(kv), rev)
	}
}

func testGetNotFound(t *testing.T, s storage.Store) {
	mustCreate(t, s, "/registry/pods/default/a", "v1")
	for _, key := range []string{"/registry/pods/default/b", "/registry/pods/default/", "/registry/pods/default/a/x"} {
		if _, err := s.Get(ctxFor(t), key); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Get(%q): err = %v, want ErrNotFound", key, err)
		}
	}
}

func testUpdateCAS(t *testing.T, s storage.Store) {
	created := mustCreate(t, s, "/registry/pods/default/a", "v1")
	rev := mustUpdate(t, s, "/registry/pods/default/a", "v2", created)
	if rev <= created {
		t.Fatalf("Update returned revision %d, want > %d", rev, created)
	}
	rev2 := mustUpdate(t, s, "/registry/pods/default/a", "v3", rev)
	kv := mustGet(t, s, "/registry/pods/default/a")
	want := storage.KeyValue{Key: "/registry/pods/default/a", Value: []byte("v3"), CreateRevision: created, ModRevision: rev2}
	if !equalKV(kv, want) {
		t.Fatalf("Get = %s, want %s", fmtKV(kv), fmtKV(want))
	}
}

func testUpdateConflict(t *testing.T, s storage.Store) {
	created := mustCreate(t, s, "/registry/pods/default/a", "v1")
	rev := mustUpdate(t, s, "/registry/pods/default/a", "v2", created)
	for _, stale := range []int64{created, rev + 1000} {
		if _, err := s.Update(ctxFor(t), "/registry/pods/default/a", []byte("lost"), stale); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("Update with revision %d: err = %v, want ErrConflict", stale, err)
		}
	}
	if kv := mustGet(t, s, "/registry/pods/default/a"); string(kv.Value) != "v2" || kv.ModRevision != rev {
		t.Fatalf("after refused Update, Get = %s, want v2 at %d", fmtKV(kv), rev)
	}
}

func testUpdateNotFound(t *testing.T, s storage.Store) {
	rev := mustCreate(t, s, "/registry/pods/default/a", "v1")
	for _, expected := range []int64{0, rev} {
		if _, err := s.Update(ctxFor(t), "/registry/pods/default/b", []byte("v"), expected); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Update of missing key with revision %d: err = %v, want ErrNotFound", expected, err)
		}
	}
	if _, err := s.Get(ctxFor(t), "/registry/pods/default/b"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("refused Update created the key: Get err = %v", err)
	}
}

func testUpdateUnconditional(t *testing.T, s storage.Store) {
	created := mustCreate(t, s, "/registry/pods/default/a", "v1")
	mustUpdate(t, s, "/registry/pods/default/a", "v2", created)
	rev := mustUpdate(t, s, "/registry/pods/default/a", "v3", 0)
	kv := mustGet(t, s, "/registry/pods/default/a")
	want := storage.KeyValue{Key: "/registry/pods/default/a", Value: []byte("v3"), CreateRevision: created, ModRevision: rev}
	if !equalKV(kv, want) {
		t.Fatalf("Get = %s, want %s", fmtKV(kv), fmtKV(want))
	}
}

func testDeleteCAS(t *testing.T, s storage.Store) {
	created := mustCreate(t, s, "/registry/pods/default/a", "v1")
	mod := mustUpdate(t, s, "/registry/pods/default/a", "v2", created)
	prev, rev, err := s.Delete(ctxFor(t), "/registry/pods/default/a", mod)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if rev <= mod {
		t.Fatalf("Delete returned revision %d, want > %d", rev, mod)
	}
	want := storage.KeyValue{Key: "/registry/pods/default/a", Value: []byte("v2"), CreateRevision: created, ModRevision: mod}
	if !equalKV(prev, want) {
		t.Fatalf("Delete returned %s, want %s", fmtKV(prev), fmtKV(want))
	}
	if _, err := s.Get(ctxFor(t), "/registry/pods/default/a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
	}
}

func testDeleteConflict(t *testing.T, s storage.Store) {
	created := mustCreate(t, s, "/registry/pods/default/a", "v1")
	mod := mustUpdate(t, s, "/registry/pods/default/a", "v2", created)
	if _, _, err := s.Delete(ctxFor(t), "/registry/pods/default/a", created); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("Delete with stale revision: err = %v, want ErrConflict", err)
	}
	if kv := mustGet(t, s, "/registry/pods/default/a"); kv.ModRevision != mod {
		t.Fatalf("after refused Delete, Get = %s, want the key at %d", fmtKV(kv), mod)
	}
}

func testDeleteNotFound(t *testing.T, s storage.Store) {
	rev := mustCreate(t, s, "/registry/pods/default/a", "v1")
	for _, expected := range []int64{0, rev} {
		if _, _, err := s.Delete(ctxFor(t), "/registry/pods/default/b", expected); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Delete of missing key with revision %d: err = %v, want ErrNotFound", expected, err)
		}
	}
}

func testDeleteUnconditional(t *testing.T, s storage.Store) {
	created := mustCreate(t, s, "/registry/pods/default/a", "v1")
	mod := mustUpdate(t, s, "/registry/pods/default/a", "v2", 0)
	prev, _, err := s.Delete(ctxFor(t), "/registry/pods/default/a", 0)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	want := storage.KeyValue{Key: "/registry/pods/default/a", Value: []byte("v2"), CreateRevision: created, ModRevision: mod}
	if !equalKV(prev, want) {
		t.Fatalf("Delete returned %s, want %s", fmtKV(prev), fmtKV(want))
	}
	if _, _, err := s.Delete(ctxFor(t), "/registry/pods/default/a", 0); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second Delete: err = %v, want ErrNotFound", err)
	}
}

func testRecreate(t *testing.T, s storage.Store) {
	first := mustCreate(t, s, "/registry/pods/default/a", "v1")
	if _, _, err := s.Delete(ctxFor(t), "/registry/pods/default/a", first); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	second := mustCreate(t, s, "/registry/pods/default/a", "v2")
	kv := mustGet(t, s, "/registry/pods/default/a")
	want := storage.KeyValue{Key: "/registry/pods/default/a", Value: []byte("v2"), CreateRevision: second, ModRevision: second}
	if second <= first || !equalKV(kv, want) {
		t.Fatalf("Get = %s, want %s (first create at %d)", fmtKV(kv), fmtKV(want), first)
	}
}

func testList(t *testing.T, s storage.Store) {
	// Created out of order; some keys share the prefix's text without being under it.
	for _, key := range []string{
		"/registry/pods/kube-system/c",
		"/registry/pods/default/b",
		"/registry/podsx/default/a",
		"/registry/pods/default/a",
		"/registry/services/default/a",
		"/registry/pods/default/a/sub",
	} {
		mustCreate(t, s, key, "value of "+key)
	}
	mustUpdate(t, s, "/registry/pods/default/b", "updated", 0)
	kvs, rev, err := s.List(ctxFor(t), "/registry/pods/")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if cur := mustRevision(t, s); rev != cur {
		t.Fatalf("List revision = %d, want the current revision %d", rev, cur)
	}
	want := []string{
		"/registry/pods/default/a",
		"/registry/pods/default/a/sub",
		"/registry/pods/default/b",
		"/registry/pods/kube-system/c",
	}
	if len(kvs) != len(want) {
		t.Fatalf("List returned %d keys %v, want %v", len(kvs), keysOf(kvs), want)
	}
	for i, kv := range kvs {
		if kv.Key != want[i] {
			t.Fatalf("List keys = %v, want %v", keysOf(kvs), want)
		}
		if got := mustGet(t, s, kv.Key); !equalKV(kv, got) {
			t.Fatalf("List entry %s differs from Get %s", fmtKV(kv), fmtKV(got))
		}
	}
}

func testListEmpty(t *testing.T, s storage.Store) {
	rev := mustCreate(t, s, "/registry/pods/default/a", "v1")
	kvs, listRev, err := s.List(ctxFor(t), "/registry/secrets/")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(kvs) != 0 || listRev != rev {
		t.Fatalf("List = %v at %d, want nothing at %d", keysOf(kvs), listRev, rev)
	}
}

func testRevisionMonotonic(t *testing.T, s storage.Store) {
	if rev := mustRevision(t, s); rev != 0 {
		t.Fatalf("Revision of a new store = %d, want 0", rev)
	}
	last := int64(0)
	step := func(what string, rev int64) {
		t.Helper()
		if rev <= last {
			t.Fatalf("%s returned revision %d, want > %d", what, rev, last)
		}
		if cur := mustRevision(t, s); cur != rev {
			t.Fatalf("after %s, Revision = %d, want %d", what, cur, rev)
		}
		last = rev
	}
	step("create a", mustCreate(t, s, "/registry/pods/default/a", "v1"))
	step("create b", mustCreate(t, s, "/registry/pods/default/b", "v1"))
	step("update a", mustUpdate(t, s, "/registry/pods/default/a", "v2", 0))
	_, rev, err := s.Delete(ctxFor(t), "/registry/pods/default/b", 0)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	step("delete b", rev)
	step("create b again", mustCreate(t, s, "/registry/pods/default/b", "v1"))
}

func testRefusedWritesKeepRevision(t *testing.T, s storage.Store) {
	created := mustCreate(t, s, "/registry/pods/default/a", "v1")
	rev := mustUpdate(t, s, "/registry/pods/default/a", "v2", created)
	ctx := ctxFor(t)
	refused := []struct {
		name string
		do   func() error
	}{
		{"create existing", func() error { _, err := s.Create(ctx, "/registry/pods/default/a", nil); return err }},
		{"update conflict", func() error { _, err := s.Update(ctx, "/registry/pods/default/a", nil, created); return err }},
		{"update missing", func() error { _, err := s.Update(ctx, "/registry/pods/default/x", nil, 0); return err }},
		{"delete conflict", func() error { _, _, err := s.Delete(ctx, "/registry/pods/default/a", created); return err }},
		{"delete missing", func() error { _, _, err := s.Delete(ctx, "/registry/pods/default/x", 0); return err }},
	}
	for _, r := range refused {
		if err := r.do(); err == nil {
			t.Fatalf("%s: succeeded, want refused", r.name)
		}
		if cur := mustRevision(t, s); cur != rev {
			t.Fatalf("after refused %s, Revision = %d, want %d", r.name, cur, rev)
		}
	}
}

func testCancelledWrite(t *testing.T, s storage.Store) {
	rev := mustCreate(t, s, "/registry/pods/default/a", "v1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Create(ctx, "/registry/pods/default/b", []byte("v")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create with cancelled ctx: err = %v, want context.Canceled", err)
	}
	if _, err := s.Update(ctx, "/registry/pods/default/a", []byte("v"), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Update with cancelled ctx: err = %v, want context.Canceled", err)
	}
	if _, _, err := s.Delete(ctx, "/registry/pods/default/a", 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Delete with cancelled ctx: err = %v, want context.Canceled", err)
	}
	if _, err := s.Get(ctxFor(t), "/registry/pods/default/b"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("cancelled Create was applied: Get err = %v", err)
	}
	if kv := mustGet(t, s, "/registry/pods/default/a"); kv.ModRevision != rev {
		t.Fatalf("cancelled Update or Delete was applied: Get = %s", fmtKV(kv))
	}
}

func equalKV(a, b storage.KeyValue) bool {
	return a.Key == b.Key && string(a.Value) == string(b.Value) &&
		a.CreateRevision == b.CreateRevision && a.ModRevision == b.ModRevision
}

func fmtKV(kv storage.KeyValue) string {
	return fmt.Sprintf("{%q=%q, create %d, mod %d}", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision)
}

func keysOf(kvs []storage.KeyValue) []string {
	keys := make([]string, len(kvs))
	for i, kv := range kvs {
		keys[i] = kv.Key
	}
	return keys
}
