package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

const (
	// shutdownTimeout bounds how long shutdown waits for in-flight requests.
	shutdownTimeout = 5 * time.Second

	// Per-stream HTTP/2 buffer and frame size, and streams per connection, as kube-apiserver
	// sets them: big enough for most request bodies in one frame, and room for many watches
	// on one connection.
	http2StreamBuffer = 256 << 10
	http2MaxStreams   = 1000
)

// newHTTPServer serves h over TLS 1.2 or later with cert, speaking HTTP/1.1 and HTTP/2.
func newHTTPServer(h http.Handler, cert tls.Certificate, log *slog.Logger) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	return &http.Server{
		Handler: h,
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
		},
		Protocols: &protocols,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          http2MaxStreams,
			MaxReadFrameSize:              http2StreamBuffer,
			MaxReceiveBufferPerStream:     http2StreamBuffer,
			MaxReceiveBufferPerConnection: http2StreamBuffer * http2MaxStreams,
		},
		ReadHeaderTimeout: 32 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    1 << 20,
		// TLS handshake failures (a client that does not trust the CA) and the like.
		ErrorLog: slog.NewLogLogger(log.With("component", "https").Handler(), slog.LevelInfo),
	}
}

// endLongRunningOnShutdown wraps h so that long-running requests (watches, followed logs) can be
// ended at once when shutdown begins: http.Server.Shutdown waits for in-flight requests to
// finish, and a watch never finishes on its own. Calling end cancels their contexts.
func endLongRunningOnShutdown(h http.Handler) (wrapped http.Handler, end func()) {
	shutdown, end := context.WithCancel(context.Background())
	wrapped = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !longRunning(r) {
			h.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(shutdown, cancel)
		defer stop()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
	return wrapped, end
}

// longRunning reports whether r stays open until the client goes away: a watch (?watch=true or
// the legacy /watch/ paths) or a followed log.
func longRunning(r *http.Request) bool {
	q := r.URL.Query()
	return isTrue(q.Get("watch")) || isTrue(q.Get("follow")) ||
		strings.Contains(r.URL.Path, "/watch/")
}

func isTrue(v string) bool { return v == "true" || v == "1" }

// shutdownHTTP stops accepting connections and waits up to shutdownTimeout for in-flight requests,
// then closes whatever is left.
func shutdownHTTP(srv *http.Server, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		log.Warn("requests still running at shutdown timeout; closing their connections", "timeout", shutdownTimeout)
		err = srv.Close()
	}
	if err != nil {
		log.Warn("stopping https server", "err", err)
	}
}
