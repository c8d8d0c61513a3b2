package apiserver

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
)

// inProcessTransport is an http.RoundTripper that calls the API handler directly: embedded
// components use the real API with no TLS or TCP in between. A write is served in the caller's
// goroutine and answered from a buffer; any other request is served on a goroutine of its own
// and its response streams through a pipe, so watches (and logs, and proxied responses) work.
type inProcessTransport struct {
	handler http.Handler
}

func (t *inProcessTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	if req.Body == nil {
		req.Body = http.NoBody
	}
	req.RequestURI = req.URL.RequestURI()
	req.RemoteAddr = "127.0.0.1:0"
	if req.Host == "" {
		req.Host = req.URL.Host
	}
	if !answeredWhole(req) {
		return t.stream(req)
	}
	rw := &bufferedResponseWriter{header: http.Header{}}
	t.handler.ServeHTTP(rw, req)
	rw.WriteHeader(http.StatusOK) // no-op if already written
	return &http.Response{
		Status: http.StatusText(rw.code), StatusCode: rw.code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rw.header, Body: io.NopCloser(bytes.NewReader(rw.body.Bytes())), ContentLength: int64(rw.body.Len()),
		Request: req,
	}, nil
}

// answeredWhole reports whether req's response is complete when its handler returns, so that
// the caller's goroutine can serve it: a create, update, patch or delete, which is what
// controllers send most, and which never streams (no watch, log or upgrade), unless it goes
// through a proxy. Serving it there spares a goroutine hand-over each way and a pipe.
func answeredWhole(req *http.Request) bool {
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return req.Header.Get("Upgrade") == "" && !strings.Contains(req.URL.Path, "/proxy")
	}
	return false
}

// stream serves req on a goroutine of its own and returns once the response head is written;
// the body follows through a pipe as the handler writes it.
func (t *inProcessTransport) stream(req *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	rw := &pipeResponseWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			rw.WriteHeader(http.StatusOK) // no-op if already written
			_ = pw.Close()
		}()
		t.handler.ServeHTTP(rw, req)
	}()
	select {
	case <-rw.ready:
	case <-req.Context().Done():
		_ = pr.Close()
		return nil, req.Context().Err()
	}
	return &http.Response{
		Status: http.StatusText(rw.code), StatusCode: rw.code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rw.sent, Body: pr, ContentLength: -1, Request: req,
	}, nil
}

// bufferedResponseWriter keeps a whole response for RoundTrip to return.
type bufferedResponseWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *bufferedResponseWriter) Header() http.Header { return w.header }

func (w *bufferedResponseWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *bufferedResponseWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// pipeResponseWriter hands the response head to RoundTrip on WriteHeader and streams the body.
type pipeResponseWriter struct {
	header http.Header
	sent   http.Header
	pw     *io.PipeWriter
	once   sync.Once
	code   int
	ready  chan struct{}
}

func (w *pipeResponseWriter) Header() http.Header { return w.header }

func (w *pipeResponseWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.code = code
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeResponseWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(b)
}

// Flush is a no-op: every Write already reaches the reader.
func (w *pipeResponseWriter) Flush() {}
