package apiservertest

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/skiff-dev/skiff/internal/apiserver"
	"github.com/skiff-dev/skiff/internal/storage/bolt"
)

// Start starts an API server on a fresh store and returns it with the context it runs under,
// which ends with the test. configure, when not nil, adjusts the Config first (say, to add an
// Authenticate func).
func Start(t testing.TB, configure func(*apiserver.Config)) (*apiserver.Server, context.Context) {
	t.Helper()
	discard := slog.New(slog.DiscardHandler)
	store, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	cfg := apiserver.Config{
		Store:            store,
		AdvertiseAddress: net.IPv4(127, 0, 0, 1),
		AdvertisePort:    6443,
		Log:              discard,
	}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := apiserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return srv, ctx
}
