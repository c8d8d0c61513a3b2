package controllertest

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

// Request is one request a client of the cluster sent, read as the API server reads its path
// and method.
type Request struct {
	Verb        string // get, list, watch, create, update, patch, delete or deletecollection
	Group       string // "" for the core group
	Namespace   string
	Resource    string // "pods"
	Name        string
	Subresource string // "status", "finalize", ...
	// Object is the body decoded: the object of a create or update, the DeleteOptions of a
	// delete; nil when the body is empty or not an object (a patch).
	Object runtime.Object
	Body   []byte
}

// requestLog keeps every request the cluster's clients send, and reports each as a change, so
// that a wait on the requests sent wakes when one is.
type requestLog struct {
	notify func()

	mu   sync.Mutex // guards reqs
	reqs []Request
}

// wrap is a rest.Config's WrapTransport: requests through next are logged first.
func (l *requestLog) wrap(next http.RoundTripper) http.RoundTripper {
	return &loggingTransport{log: l, next: next}
}

func (l *requestLog) add(r Request) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.mu.Unlock()
	l.notify()
}

func (l *requestLog) requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

type loggingTransport struct {
	log  *requestLog
	next http.RoundTripper
}

func (t *loggingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := parseRequest(req.Method, req.URL)
	if req.Body != nil && req.Body != http.NoBody {
		body, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec.Body = body
		if rec.Verb != "patch" {
			rec.Object, _, _ = scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
		}
	}
	t.log.add(rec)
	return t.next.RoundTrip(req)
}

// parseRequest reads a resource request's path and method the way the API server does
// (/api/v1/namespaces/ns/pods/name/status, /apis/apps/v1/deployments?watch=true, ...).
func parseRequest(method string, u *url.URL) Request {
	var r Request
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		r.Group, parts = parts[1], parts[3:]
	default:
		r.Verb = strings.ToLower(method)
		return r
	}
	watch := u.Query().Get("watch") == "true" || u.Query().Get("watch") == "1"
	if parts[0] == "watch" && len(parts) > 1 {
		watch, parts = true, parts[1:]
	}
	// namespaces/{ns}/{resource}..., but namespaces/{name}[/status|/finalize] is the namespace.
	if parts[0] == "namespaces" && len(parts) >= 3 && parts[2] != "status" && parts[2] != "finalize" {
		r.Namespace, parts = parts[1], parts[2:]
	}
	r.Resource = parts[0]
	if len(parts) > 1 {
		r.Name = parts[1]
	}
	if len(parts) > 2 {
		r.Subresource = parts[2]
	}
	switch method {
	case http.MethodGet:
		switch {
		case watch:
			r.Verb = "watch"
		case r.Name == "":
			r.Verb = "list"
		default:
			r.Verb = "get"
		}
	case http.MethodPost:
		r.Verb = "create"
	case http.MethodPut:
		r.Verb = "update"
	case http.MethodPatch:
		r.Verb = "patch"
	case http.MethodDelete:
		r.Verb = "delete"
		if r.Name == "" {
			r.Verb = "deletecollection"
		}
	default:
		r.Verb = strings.ToLower(method)
	}
	return r
}
