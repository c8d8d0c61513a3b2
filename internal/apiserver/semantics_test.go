package apiserver_test

// The semantics suite pins the API server's answers to kube-apiserver's: status codes, reasons,
// messages and which fields change, request by request. It uses only the package's public
// surface (New, Start, Handler, LoopbackConfig) over a real bolt store, so it keeps holding while
// the write path behind it is rebuilt. Each file covers one concern: create and get, update and
// status, patch, delete, namespaces, request parameters. The upstream source that fixes each
// expectation is named next to the cases.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/internal/apiserver"
	"github.com/skiff-dev/skiff/internal/apiserver/apiservertest"
)

const semanticsToken = "semantics-token"

// apiServer is a started API server on a fresh bolt store, reached through its Handler (raw
// requests) and through client-go over its loopback config (fixtures).
type apiServer struct {
	handler http.Handler
	client  kubernetes.Interface
	config  *rest.Config // the loopback config client is made from
}

func startServer(t *testing.T) *apiServer {
	t.Helper()
	srv, _ := apiservertest.Start(t, func(cfg *apiserver.Config) {
		cfg.Authenticate = func(tok string) (string, bool) { return "admin", tok == semanticsToken }
	})
	client, err := kubernetes.NewForConfig(srv.LoopbackConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &apiServer{handler: srv.Handler(), client: client, config: srv.LoopbackConfig()}
}

// reply is one recorded answer.
type reply struct {
	code int
	body []byte
}

// requestTimeout bounds every request, so that a watch the server should have refused, or one
// that outlives its timeoutSeconds, ends the case instead of hanging it.
const requestTimeout = 10 * time.Second

// do sends one request to the handler. A non-empty body without a content type is sent as JSON.
func (s *apiServer) do(t *testing.T, method, path, contentType, body string) *reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+semanticsToken)
	req.Header.Set("Accept", "application/json")
	if contentType == "" && body != "" {
		contentType = "application/json"
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return &reply{code: rec.Code, body: rec.Body.Bytes()}
}

// mustDo sends a request a case's setup relies on and stops the case when it is refused.
func (s *apiServer) mustDo(t *testing.T, method, path, contentType, body string) *reply {
	t.Helper()
	r := s.do(t, method, path, contentType, body)
	if r.code >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, r.code, r.body)
	}
	return r
}

// exists reports whether a GET of path finds the object (200) or not (404).
func (s *apiServer) exists(t *testing.T, path string) bool {
	t.Helper()
	r := s.do(t, http.MethodGet, path, "", "")
	switch r.code {
	case http.StatusOK:
		return true
	case http.StatusNotFound:
		return false
	}
	t.Fatalf("GET %s: %d %s", path, r.code, r.body)
	return false
}

// decode decodes the reply's JSON body into a T.
func decode[T any](t *testing.T, r *reply) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %T from %s: %v", v, r.body, err)
	}
	return v
}

// get reads path and decodes the object it answers with.
func get[T any](t *testing.T, s *apiServer, path string) T {
	t.Helper()
	r := s.do(t, http.MethodGet, path, "", "")
	if r.code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.code, r.body)
	}
	return decode[T](t, r)
}

// want is the answer a case expects. For an answer below 400 only code is checked (the case's
// check looks at the body); for a failure the Status body is checked too.
type want struct {
	code     int
	reason   metav1.StatusReason
	message  string   // the exact message, when set
	contains []string // parts of the message
	causes   []string // fields named in details.causes, in any order
}

// expand replaces {key} placeholders with the values a case's setup returned.
func expand(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

// checkReply checks r against w, with placeholders expanded from vars.
func checkReply(t *testing.T, r *reply, w want, vars map[string]string) {
	t.Helper()
	if r.code != w.code {
		if r.code >= 400 || w.code >= 400 {
			t.Fatalf("code = %d, want %d; body: %s", r.code, w.code, r.body)
		}
		// a success of another code still carries the object: the case's check goes on
		t.Errorf("code = %d, want %d", r.code, w.code)
	}
	if w.code < 400 {
		return
	}
	st := decode[metav1.Status](t, r)
	if st.Kind != "Status" || st.Status != metav1.StatusFailure || int(st.Code) != w.code {
		t.Errorf("Status kind=%q status=%q code=%d, want Status/Failure/%d", st.Kind, st.Status, st.Code, w.code)
	}
	if st.Reason != w.reason {
		t.Errorf("reason = %q, want %q (message %q)", st.Reason, w.reason, st.Message)
	}
	if m := expand(w.message, vars); m != "" && st.Message != m {
		t.Errorf("message = %q\nwant      %q", st.Message, m)
	}
	for _, part := range w.contains {
		if part = expand(part, vars); !strings.Contains(st.Message, part) {
			t.Errorf("message %q does not contain %q", st.Message, part)
		}
	}
	if len(w.causes) > 0 {
		var got []string
		if st.Details != nil {
			for _, c := range st.Details.Causes {
				got = append(got, c.Field)
			}
		}
		for _, f := range w.causes {
			if !slices.Contains(got, f) {
				t.Errorf("details.causes fields %q do not name %q", got, f)
			}
		}
	}
}

// apiCase is one request and what kube-apiserver answers to it. setup makes the case's fixtures
// on its own server and returns placeholder values ({uid}, {rv}, ...) for path, body and want;
// check looks at the reply and the server afterwards.
type apiCase struct {
	name        string
	setup       func(t *testing.T, s *apiServer) map[string]string
	method      string
	path        string
	contentType string
	body        string
	want        want
	check       func(t *testing.T, s *apiServer, r *reply, vars map[string]string)
}

// runCases runs each case on a server of its own, so that no case sees another's objects.
func runCases(t *testing.T, cases []apiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t)
			vars := map[string]string{}
			if tc.setup != nil {
				vars = tc.setup(t, s)
			}
			r := s.do(t, tc.method, expand(tc.path, vars), tc.contentType, expand(tc.body, vars))
			checkReply(t, r, tc.want, vars)
			if tc.check != nil {
				tc.check(t, s, r, vars)
			}
		})
	}
}

// mustJSON marshals v for a request body.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
