package apiserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// do sends a raw request to the test server and decodes the Status it answers with.
func (ts *testServer) do(t *testing.T, method, path, contentType, token string, body []byte) (int, metav1.Status, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, ts.https.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.https.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st metav1.Status
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return resp.StatusCode, st, resp.Header
}

const validDeploymentJSON = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"%s"},
 "spec":{"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"a"}},
 "spec":{"containers":[{"name":"c","image":"i"}]}}}}`

func TestBadInputGetsStatusAndChangesNothing(t *testing.T) {
	ts := newTestServer(t)
	deploys := "/apis/apps/v1/namespaces/default/deployments"
	big := append([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"x":"`), bytes.Repeat([]byte("a"), 4<<20)...)
	big = append(big, []byte(`"}}`)...)
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		token       string
		body        string
		rawBody     []byte
		wantCode    int
		wantReason  metav1.StatusReason
		wantInMsg   string
	}{
		{"no token is 401", "GET", deploys, "", "-", "", nil, 401, metav1.StatusReasonUnauthorized, "Unauthorized"},
		{"wrong token is 401", "GET", deploys, "", "wrong", "", nil, 401, metav1.StatusReasonUnauthorized, "Unauthorized"},
		{"unknown resource is 404", "GET", "/apis/apps/v1/namespaces/default/widgets", "", "", "", nil, 404, metav1.StatusReasonNotFound, "the server could not find the requested resource"},
		{"malformed JSON is 400", "POST", deploys, "application/json", "", `{"apiVersion":`, nil, 400, metav1.StatusReasonBadRequest, ""},
		{"malformed YAML is 400", "POST", deploys, "application/yaml", "", "apiVersion: apps/v1\nkind: [", nil, 400, metav1.StatusReasonBadRequest, ""},
		{"unknown field with Strict is 400 naming it", "POST", deploys + "?fieldValidation=Strict", "application/json", "",
			`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"s"},"spec":{"replicaz":3,"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
			nil, 400, metav1.StatusReasonBadRequest, `unknown field "spec.replicaz"`},
		{"body over 3 MiB is 413", "POST", "/api/v1/namespaces/default/configmaps", "application/json", "", "", big, 413, metav1.StatusReasonRequestEntityTooLarge, ""},
		{"invalid object is 422 with field paths", "POST", deploys, "application/json", "",
			`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"Bad_Name"},"spec":{"replicas":-1,"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
			nil, 422, metav1.StatusReasonInvalid, "spec.replicas"},
		{"wrong kind for the URL is 400", "POST", deploys, "application/json", "", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`, nil, 400, metav1.StatusReasonBadRequest, "does not match"},
		{"unsupported patch type is 415", "PATCH", deploys + "/x", "text/plain", "", `{}`, nil, 415, metav1.StatusReasonUnsupportedMediaType, ""},
		{"bad label selector is 400", "GET", deploys + "?labelSelector=a%20in%20(", "", "", "", nil, 400, metav1.StatusReasonBadRequest, ""},
		{"unsupported field selector is 400", "GET", deploys + "?fieldSelector=spec.foo%3Dx", "", "", "", nil, 400, metav1.StatusReasonBadRequest, "field label not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := ts.token
			switch tt.token {
			case "-":
				token = ""
			case "":
			default:
				token = tt.token
			}
			body := tt.rawBody
			if body == nil {
				body = []byte(tt.body)
			}
			code, st, _ := ts.do(t, tt.method, tt.path, tt.contentType, token, body)
			if code != tt.wantCode || st.Code != int32(tt.wantCode) {
				t.Fatalf("code %d (status %d), want %d: %+v", code, st.Code, tt.wantCode, st)
			}
			if st.Kind != "Status" || st.Status != metav1.StatusFailure || st.Reason != tt.wantReason {
				t.Fatalf("status %+v, want kind Status, Failure, reason %s", st, tt.wantReason)
			}
			if !strings.Contains(st.Message, tt.wantInMsg) {
				t.Fatalf("message %q lacks %q", st.Message, tt.wantInMsg)
			}
		})
	}
	// nothing was stored by any of them
	code, _, _ := ts.do(t, "GET", deploys+"/s", "", ts.token, nil)
	if code != 404 {
		t.Fatalf("a refused create was stored (GET gave %d)", code)
	}
}

func TestUnknownFieldWarnsByDefault(t *testing.T) {
	ts := newTestServer(t)
	body := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w"},"dataz":{"a":"b"}}`
	code, _, hdr := ts.do(t, "POST", "/api/v1/namespaces/default/configmaps", "application/json", ts.token, []byte(body))
	if code != 201 {
		t.Fatalf("create with unknown field and default validation: %d", code)
	}
	if w := hdr.Get("Warning"); !strings.Contains(w, `unknown field \"dataz\"`) {
		t.Fatalf("Warning header %q", w)
	}
}

func TestDryRunStoresNothing(t *testing.T) {
	ts := newTestServer(t)
	body := strings.Replace(validDeploymentJSON, "%s", "dry", 1)
	code, _, _ := ts.do(t, "POST", "/apis/apps/v1/namespaces/default/deployments?dryRun=All", "application/json", ts.token, []byte(body))
	if code != 201 {
		t.Fatalf("dry-run create: %d", code)
	}
	if code, _, _ := ts.do(t, "GET", "/apis/apps/v1/namespaces/default/deployments/dry", "", ts.token, nil); code != 404 {
		t.Fatalf("dry-run object was stored: GET %d", code)
	}
}
