package openapi

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestOptionParams(t *testing.T) {
	tests := []struct {
		name    string
		options reflect.Type
		want    map[string]string // parameter name -> type
		absent  []string
	}{
		{name: "patch options", options: reflect.TypeFor[metav1.PatchOptions](),
			want:   map[string]string{"dryRun": "string", "fieldManager": "string", "fieldValidation": "string", "force": "boolean"},
			absent: []string{"kind", "apiVersion"}},
		{name: "list options", options: reflect.TypeFor[metav1.ListOptions](),
			want: map[string]string{"labelSelector": "string", "fieldSelector": "string", "watch": "boolean", "allowWatchBookmarks": "boolean",
				"resourceVersion": "string", "resourceVersionMatch": "string", "timeoutSeconds": "integer", "limit": "integer",
				"continue": "string", "sendInitialEvents": "boolean"}},
		{name: "body-only fields are not parameters", options: reflect.TypeFor[metav1.DeleteOptions](),
			want:   map[string]string{"gracePeriodSeconds": "integer", "propagationPolicy": "string", "dryRun": "string"},
			absent: []string{"preconditions"}},
		{name: "times are strings", options: reflect.TypeFor[corev1.PodLogOptions](),
			want: map[string]string{"container": "string", "follow": "boolean", "sinceTime": "string", "tailLines": "integer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]param{}
			for _, p := range optionParams(tt.options) {
				got[p.name] = p
			}
			for name, typ := range tt.want {
				p, ok := got[name]
				if !ok {
					t.Errorf("no %s parameter", name)
					continue
				}
				if p.typ != typ || p.in != "query" || p.description == "" {
					t.Errorf("%s: type %q in %q, description %q; want type %q in query, described", name, p.typ, p.in, p.description, typ)
				}
			}
			for _, name := range tt.absent {
				if _, ok := got[name]; ok {
					t.Errorf("unexpected %s parameter", name)
				}
			}
		})
	}
}
