package apiserver

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/internal/storage/bolt"
)

// testServer is a Server on a fresh bolt store served over HTTPS by httptest.
type testServer struct {
	srv    *Server
	https  *httptest.Server
	token  string
	client kubernetes.Interface
	config *rest.Config
}

func newTestServer(t testing.TB) *testServer {
	t.Helper()
	dir := t.TempDir()
	store, err := bolt.Open(filepath.Join(dir, "state.db"), bolt.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	const token = "test-token"
	srv, err := New(Config{
		Store:            store,
		Authenticate:     func(tok string) (string, bool) { return "admin", tok == token },
		AdvertiseAddress: net.IPv4(127, 0, 0, 1),
		AdvertisePort:    6443,
		Log:              slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(hs.Close)
	cfg := &rest.Config{Host: hs.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{Insecure: true}, QPS: -1}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{srv: srv, https: hs, token: token, client: cs, config: cfg}
}
