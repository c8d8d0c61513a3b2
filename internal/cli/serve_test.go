package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-dev/skiff/internal/pki"
)

// startTLS serves h the way runServer does and returns its URL, a client trusting its CA, and the
// server.
func startTLS(t *testing.T, h http.Handler) (string, *http.Client, *http.Server) {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	ca, _, err := pki.LoadOrCreateCA(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"), now)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := pki.EnsureServingCert(ca, filepath.Join(dir, "s.crt"), filepath.Join(dir, "s.key"), []string{"127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(h, cert, slog.New(slog.DiscardHandler))
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })

	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
	}}
	return "https://" + ln.Addr().String(), client, srv
}

func TestHTTPServerSpeaksHTTP2OverTLS12Plus(t *testing.T) {
	url, client, _ := startTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "HTTP/2.0" {
		t.Errorf("protocol %q, want HTTP/2.0", body)
	}

	old := client.Transport.(*http.Transport).Clone()
	old.TLSClientConfig.MaxVersion = tls.VersionTLS11
	if _, err := (&http.Client{Transport: old}).Get(url); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
}

func TestShutdownEndsWatchesAndFinishesRequests(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if longRunning(r) {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done() // a watch ends only when its context does
			return
		}
		close(arrived)
		<-release // a slow ordinary request
		io.WriteString(w, "done")
	})
	wrapped, endLongRunning := endLongRunningOnShutdown(h)
	url, client, srv := startTLS(t, wrapped)
	shuttingDown := make(chan struct{})
	srv.RegisterOnShutdown(func() { close(shuttingDown) })

	watch, err := client.Get(url + "/api/v1/pods?watch=true")
	if err != nil {
		t.Fatal(err)
	}
	slow := make(chan string)
	go func() {
		resp, err := client.Get(url + "/api/v1/pods")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	await(t, arrived, "the slow request to arrive")

	var logged lockedBuffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	done := make(chan struct{})
	go func() {
		endLongRunning()
		shutdownHTTP(srv, log)
		close(done)
	}()
	if _, err := io.ReadAll(watch.Body); err != nil {
		t.Logf("watch body: %v", err)
	}
	// The watch has ended; once shutdown has begun, the slow request finishes.
	await(t, shuttingDown, "shutdown to begin")
	close(release)
	if got := <-slow; got != "done" {
		t.Errorf("in-flight request got %q, want it finished", got)
	}
	await(t, done, "shutdown to return")
	if strings.Contains(logged.String(), "shutdown timeout") {
		t.Fatalf("shutdown waited for the watch until its timeout:\n%s", logged.String())
	}
}

// await waits for ch to be closed; the deadline only keeps a broken test from hanging.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// lockedBuffer is a bytes.Buffer that a logger in another goroutine may write to.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLongRunning(t *testing.T) {
	tests := []struct {
		target string
		want   bool
	}{
		{"/api/v1/pods?watch=true", true},
		{"/api/v1/namespaces/default/pods?watch=1&resourceVersion=5", true},
		{"/api/v1/watch/pods", true},
		{"/api/v1/namespaces/default/pods/p/log?follow=true", true},
		{"/api/v1/pods?watch=false", false},
		{"/api/v1/namespaces/default/pods/watch", false}, // a pod named watch
		{"/apis/apps/v1/deployments", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, tt.target, nil)
		if got := longRunning(r); got != tt.want {
			t.Errorf("longRunning(%s) = %v, want %v", tt.target, got, tt.want)
		}
	}
}
