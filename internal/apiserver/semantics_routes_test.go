package apiserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestUnservedResourceSemantics: a request for a resource the server does not have.
//
// Upstream: apiserver/pkg/server/handler.go hands a path under a served group-version to
// go-restful, whose no-route error ("404: Page Not Found", go-restful's jsr311.go) its
// serviceErrorHandler answers as NewGenericServerResponse: a 404 Status, reason NotFound,
// "the server could not find the requested resource". A path under a group-version no one serves
// reaches the end of the chain, util/notfoundhandler, which answers http.NotFound's plain text.
// client-go reads either as NotFound with that same message, which is what Kubernetes' e2e
// specs print when a cluster lacks an API (e.g. "jobs.batch" on a server without batch/v1).
func TestUnservedResourceSemantics(t *testing.T) {
	runCases(t, []apiCase{
		{
			name:   "a resource missing from a served group-version is a 404 NotFound Status",
			method: http.MethodGet, path: "/apis/apps/v1/namespaces/default/nothings",
			want: want{code: http.StatusNotFound, reason: metav1.StatusReasonNotFound,
				message: "the server could not find the requested resource"},
		},
		{
			name:   "creating one is the same 404",
			method: http.MethodPost, path: "/api/v1/namespaces/default/nothings", body: `{"apiVersion":"v1","kind":"Nothing","metadata":{"name":"n"}}`,
			want: want{code: http.StatusNotFound, reason: metav1.StatusReasonNotFound,
				message: "the server could not find the requested resource"},
		},
	})

	t.Run("a group-version no one serves is a plain 404", func(t *testing.T) {
		s := startServer(t)
		r := s.do(t, http.MethodPost, "/apis/nothing.example.com/v1/namespaces/default/things", "", `{"metadata":{"name":"n"}}`)
		if r.code != http.StatusNotFound || strings.TrimSpace(string(r.body)) != "404 page not found" {
			t.Errorf("got %d %q, want 404 %q", r.code, r.body, "404 page not found")
		}
	})

	t.Run("client-go reads both as NotFound: the server could not find the requested resource", func(t *testing.T) {
		s := startServer(t)
		rc := s.client.CoreV1().RESTClient()
		for _, path := range []string{"/apis/batch/v1/namespaces/default/jobs", "/apis/apps/v1/namespaces/default/statefulsets"} {
			err := rc.Post().AbsPath(path).Body([]byte(`{"metadata":{"name":"n"}}`)).SetHeader("Content-Type", "application/json").Do(context.Background()).Error()
			if !apierrors.IsNotFound(err) || err.Error() != "the server could not find the requested resource" {
				t.Errorf("POST %s: %v, want NotFound %q", path, err, "the server could not find the requested resource")
			}
		}
	})
}
