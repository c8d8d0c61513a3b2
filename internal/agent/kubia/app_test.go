package kubia

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		name    string
		variant string
		want    []string // bodies of successive requests, "500 " prefix for failures
	}{
		{"v1 answers with its version and pod", "v1", []string{"This is v1 running in pod kubia-1\n"}},
		{"v4 answers like v1", "v4", []string{"This is v4 running in pod kubia-1\n"}},
		{"v3 fails from its fifth request on", "v3", []string{
			"This is v3 running in pod kubia-1\n", "This is v3 running in pod kubia-1\n",
			"This is v3 running in pod kubia-1\n", "This is v3 running in pod kubia-1\n",
			"500 Some internal error has occurred! This is pod kubia-1\n",
			"500 Some internal error has occurred! This is pod kubia-1\n",
		}},
		{"hit is chapter 2's app", "hit", []string{"You've hit kubia-1\n"}},
		{"unhealthy fails from its sixth request on", "unhealthy", []string{
			"You've hit kubia-1\n", "You've hit kubia-1\n", "You've hit kubia-1\n", "You've hit kubia-1\n", "You've hit kubia-1\n",
			"500 I'm not well. Please restart me!",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log strings.Builder
			h, err := Handler(tt.variant, "kubia-1", &log)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.want {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
				body, _ := io.ReadAll(rec.Body)
				got := string(body)
				if rec.Code != http.StatusOK {
					got = "500 " + got
				}
				if got != want {
					t.Errorf("request %d: got %q, want %q", i+1, got, want)
				}
			}
			if n := strings.Count(log.String(), "Received request from "); n != len(tt.want) {
				t.Errorf("logged %d requests, want %d", n, len(tt.want))
			}
		})
	}
	if _, err := Handler("v9", "x", io.Discard); err == nil {
		t.Error("unknown variant accepted")
	}
}
