package openapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/internal/registry"
)

var appsV1beta1 = schema.GroupVersion{Group: "apps", Version: "v1beta1"}

// servedResources is the registry's resources with Deployment also served at apps/v1beta1, as an
// AltVersion adds it (unless the registry already does).
func servedResources() []*registry.Resource {
	resources := registry.All()
	for _, r := range resources {
		if r.Kind != "Deployment" {
			continue
		}
		for _, v := range r.Versions {
			if v.GroupVersion == appsV1beta1 {
				return resources
			}
		}
		r.Versions = append(r.Versions, registry.AltVersion{
			GroupVersion: appsV1beta1,
			New:          func() runtime.Object { return &appsv1beta1.Deployment{} },
			NewList:      func() runtime.Object { return &appsv1beta1.DeploymentList{} },
		})
	}
	return resources
}

func newHandler(t testing.TB) *Handler {
	t.Helper()
	h, err := New(servedResources(), "v1.33.0")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// get serves one request and returns the recorded response.
func get(h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// v3URL returns the hashed URL of a group-version's document from the index.
func v3URL(t *testing.T, h *Handler, key string) string {
	t.Helper()
	w := get(h, http.MethodGet, "/openapi/v3", nil)
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &index); err != nil {
		t.Fatalf("decode index: %v", err)
	}
	entry, ok := index.Paths[key]
	if !ok {
		t.Fatalf("index has no %s: %s", key, w.Body)
	}
	return entry.ServerRelativeURL
}

func TestIndex(t *testing.T) {
	h := newHandler(t)
	w := get(h, http.MethodGet, "/openapi/v3", nil)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi/v3: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &index); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"api/v1", "apis/apps/v1", "apis/apps/v1beta1", "apis/discovery.k8s.io/v1", "apis/coordination.k8s.io/v1"} {
		u := index.Paths[key].ServerRelativeURL
		if !strings.HasPrefix(u, "/openapi/v3/"+key+"?hash=") || len(u) != len("/openapi/v3/"+key+"?hash=")+128 {
			t.Errorf("%s: serverRelativeURL = %q, want /openapi/v3/%s?hash=<128 hex digits>", key, u, key)
		}
	}
}

func TestServeHTTP(t *testing.T) {
	h := newHandler(t)
	appsURL := v3URL(t, h, "apis/apps/v1")
	appsHash := appsURL[strings.Index(appsURL, "=")+1:]
	accept := func(v string) http.Header { return http.Header{"Accept": {v}} }
	tests := []struct {
		name         string
		method       string
		target       string
		header       http.Header
		code         int
		contentType  string
		cacheControl string
		location     string
	}{
		{name: "v2 as JSON by default", target: "/openapi/v2", code: 200, contentType: "application/json", cacheControl: "no-cache, private"},
		{name: "v2 as JSON when asked", target: "/openapi/v2", header: accept("application/json"), code: 200, contentType: "application/json"},
		{name: "v2 as protobuf", target: "/openapi/v2", header: accept(mediaTypeV2Protobuf), code: 200, contentType: mediaTypeV2ProtobufDotted},
		{name: "v2 as protobuf, dotted spelling", target: "/openapi/v2", header: accept(mediaTypeV2ProtobufDotted), code: 200, contentType: mediaTypeV2ProtobufDotted},
		{name: "v2 protobuf preferred by quality", target: "/openapi/v2",
			header: accept("application/json;q=0.5, " + mediaTypeV2Protobuf), code: 200, contentType: mediaTypeV2ProtobufDotted},
		{name: "v2 falls back to JSON for */*", target: "/openapi/v2", header: accept("text/html, */*;q=0.1"), code: 200, contentType: "application/json"},
		{name: "v2 refuses other types", target: "/openapi/v2", header: accept("text/html"), code: 406},
		{name: "v3 group-version without hash", target: "/openapi/v3/apis/apps/v1", code: 200, contentType: "application/json", cacheControl: "no-cache, private"},
		{name: "v3 group-version with its hash is immutable", target: appsURL, code: 200, contentType: "application/json", cacheControl: "public, immutable"},
		{name: "v3 group-version as protobuf", target: appsURL, header: accept(mediaTypeV3Protobuf), code: 200, contentType: mediaTypeV3ProtobufDotted, cacheControl: "public, immutable"},
		{name: "v3 stale hash redirects to the current one", target: "/openapi/v3/apis/apps/v1?hash=0123", code: 301, location: appsURL},
		{name: "v3 matching ETag is not modified", target: appsURL, header: http.Header{"If-None-Match": {strconv.Quote(appsHash)}}, code: 304},
		{name: "v3 core group", target: "/openapi/v3/api/v1", code: 200, contentType: "application/json"},
		{name: "v3 alternative version", target: "/openapi/v3/apis/apps/v1beta1", code: 200, contentType: "application/json"},
		{name: "v3 unknown group-version", target: "/openapi/v3/apis/batch/v1", code: 404},
		{name: "HEAD is served", method: http.MethodHead, target: "/openapi/v2", code: 200, contentType: "application/json"},
		{name: "writes are not allowed", method: http.MethodPost, target: "/openapi/v2", code: 405},
		{name: "other paths are not found", target: "/openapi/v4", code: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			w := get(h, method, tt.target, tt.header)
			if w.Code != tt.code {
				t.Fatalf("status = %d, want %d: %s", w.Code, tt.code, w.Body)
			}
			if tt.contentType != "" && w.Header().Get("Content-Type") != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", w.Header().Get("Content-Type"), tt.contentType)
			}
			if tt.cacheControl != "" && w.Header().Get("Cache-Control") != tt.cacheControl {
				t.Errorf("Cache-Control = %q, want %q", w.Header().Get("Cache-Control"), tt.cacheControl)
			}
			if tt.location != "" && w.Header().Get("Location") != tt.location {
				t.Errorf("Location = %q, want %q", w.Header().Get("Location"), tt.location)
			}
			if w.Code == 200 && w.Header().Get("Etag") == "" {
				t.Error("no ETag")
			}
		})
	}
}

// TestConcurrentFirstRequests has many clients ask at once, before anything is encoded; run it
// with -race.
func TestConcurrentFirstRequests(t *testing.T) {
	h := newHandler(t)
	targets := []string{"/openapi/v3", "/openapi/v3/apis/apps/v1", "/openapi/v2", "/openapi/v3/api/v1"}
	var wg sync.WaitGroup
	codes := make([]int, 4*len(targets))
	for i := range codes {
		wg.Go(func() {
			header := http.Header{}
			if i%2 == 1 {
				header.Set("Accept", mediaTypeV2Protobuf+", "+mediaTypeV3Protobuf)
			}
			codes[i] = get(h, http.MethodGet, targets[i%len(targets)], header).Code
		})
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK {
			t.Errorf("GET %s: %d", targets[i%len(targets)], code)
		}
	}
}

func TestProtobufDecodes(t *testing.T) {
	h := newHandler(t)
	t.Run("v2", func(t *testing.T) {
		w := get(h, http.MethodGet, "/openapi/v2", http.Header{"Accept": {mediaTypeV2Protobuf}})
		var doc openapi_v2.Document
		if err := proto.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.GetSwagger() != "2.0" || doc.GetInfo().GetTitle() != "Kubernetes" || doc.GetInfo().GetVersion() != "v1.33.0" {
			t.Errorf("swagger %q, info %v", doc.GetSwagger(), doc.GetInfo())
		}
	})
	for key := range h.v3 {
		t.Run("v3 "+key, func(t *testing.T) {
			w := get(h, http.MethodGet, "/openapi/v3/"+key, http.Header{"Accept": {mediaTypeV3Protobuf}})
			var doc openapi_v3.Document
			if err := proto.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.GetOpenapi() != "3.0.0" || len(doc.GetPaths().GetPath()) == 0 || len(doc.GetComponents().GetSchemas().GetAdditionalProperties()) == 0 {
				t.Errorf("openapi %q with %d paths and %d schemas", doc.GetOpenapi(), len(doc.GetPaths().GetPath()),
					len(doc.GetComponents().GetSchemas().GetAdditionalProperties()))
			}
		})
	}
}

func TestDocumentsAreStable(t *testing.T) {
	a, b := newHandler(t), newHandler(t)
	if v3URL(t, a, "apis/apps/v1") != v3URL(t, b, "apis/apps/v1") {
		t.Error("two builds of the same resources hash differently; clients would refetch on every restart")
	}
}

func TestNewRejectsIncompleteResources(t *testing.T) {
	res := servedResources()
	res[0].NewList = nil
	if _, err := New(res, "v1.33.0"); err == nil {
		t.Fatal("New accepted a resource without NewList")
	}
}

func TestNegotiate(t *testing.T) {
	offers := []string{"application/json", mediaTypeV2Protobuf, mediaTypeV2ProtobufDotted}
	tests := []struct {
		name, accept, want string
	}{
		{name: "no header means the first offer", want: "application/json"},
		{name: "exact type", accept: mediaTypeV2ProtobufDotted, want: mediaTypeV2ProtobufDotted},
		{name: "type wildcard", accept: "application/*", want: "application/json"},
		{name: "quality orders ranges", accept: "application/json;q=0.9, " + mediaTypeV2Protobuf, want: mediaTypeV2Protobuf},
		{name: "q=0 refuses", accept: "application/json;q=0", want: ""},
		{name: "nothing acceptable", accept: "text/plain", want: ""},
		{name: "case does not matter", accept: "Application/JSON", want: "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := negotiate(tt.accept, offers...); got != tt.want {
				t.Errorf("negotiate(%q) = %q, want %q", tt.accept, got, tt.want)
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	res := servedResources()
	for b.Loop() {
		if _, err := New(res, "v1.33.0"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewAndEncode is the cost paid by the first OpenAPI request: building, then encoding
// the v2 document and every v3 document (the index needs their hashes).
func BenchmarkNewAndEncode(b *testing.B) {
	res := servedResources()
	for b.Loop() {
		h, err := New(res, "v1.33.0")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h.v2.json(); err != nil {
			b.Fatal(err)
		}
		if _, err := h.v3Index(); err != nil {
			b.Fatal(err)
		}
	}
}
