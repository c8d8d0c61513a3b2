package openapi

import (
	"reflect"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// fieldSchema defines t in dialect d and returns the schema of its field (or of t itself when
// field is empty), without its description.
func fieldSchema(t *testing.T, d dialect, typ reflect.Type, field string) jsonSchema {
	t.Helper()
	defs := newDefinitions(d, map[reflect.Type][]gvk{})
	name, err := defs.define(typ)
	if err != nil {
		t.Fatalf("define %s: %v", typ, err)
	}
	s := defs.schemas[name]
	if field != "" {
		s = s.Properties[field]
		if s == nil {
			t.Fatalf("%s has no property %q", name, field)
		}
	}
	out := *s
	out.Description = ""
	return out
}

func TestSchemas(t *testing.T) {
	tests := []struct {
		name    string
		dialect dialect
		typ     reflect.Type
		field   string
		want    jsonSchema
	}{
		{name: "Time is a date-time string", typ: reflect.TypeFor[metav1.Time](),
			want: jsonSchema{Type: "string", Format: "date-time"}},
		{name: "MicroTime is a date-time string", typ: reflect.TypeFor[metav1.MicroTime](),
			want: jsonSchema{Type: "string", Format: "date-time"}},
		{name: "Duration is a string", typ: reflect.TypeFor[metav1.Duration](),
			want: jsonSchema{Type: "string"}},
		{name: "v2 IntOrString is an int-or-string string", typ: reflect.TypeFor[intstr.IntOrString](),
			want: jsonSchema{Type: "string", Format: "int-or-string"}},
		{name: "v3 IntOrString is one of integer or string, marked int-or-string", dialect: openAPI3,
			typ:  reflect.TypeFor[intstr.IntOrString](),
			want: jsonSchema{OneOf: []*jsonSchema{{Type: "integer"}, {Type: "string"}}, Format: "int-or-string", IntOrString: true}},
		{name: "v2 Quantity is a string", typ: reflect.TypeFor[resource.Quantity](),
			want: jsonSchema{Type: "string"}},
		{name: "v3 Quantity is one of string or number", dialect: openAPI3, typ: reflect.TypeFor[resource.Quantity](),
			want: jsonSchema{OneOf: []*jsonSchema{{Type: "string"}, {Type: "number"}}}},
		{name: "RawExtension is any object", typ: reflect.TypeFor[runtime.RawExtension](),
			want: jsonSchema{Type: "object"}},
		{name: "FieldsV1 is any object", typ: reflect.TypeFor[metav1.FieldsV1](),
			want: jsonSchema{Type: "object"}},
		{name: "byte slices are base64 strings", typ: reflect.TypeFor[corev1.Secret](), field: "data",
			want: jsonSchema{Type: "object", AdditionalProperties: &jsonSchema{Type: "string", Format: "byte"}}},
		{name: "string maps have string values", typ: reflect.TypeFor[metav1.ObjectMeta](), field: "labels",
			want: jsonSchema{Type: "object", AdditionalProperties: &jsonSchema{Type: "string"}}},
		{name: "named map types are inlined", typ: reflect.TypeFor[corev1.ResourceRequirements](), field: "limits",
			want: jsonSchema{Type: "object", AdditionalProperties: &jsonSchema{Ref: "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"}}},
		{name: "int32 pointers are int32 integers", typ: reflect.TypeFor[appsv1.DeploymentSpec](), field: "replicas",
			want: jsonSchema{Type: "integer", Format: "int32"}},
		{name: "int64 are int64 integers", typ: reflect.TypeFor[metav1.ObjectMeta](), field: "generation",
			want: jsonSchema{Type: "integer", Format: "int64"}},
		{name: "named strings are strings", typ: reflect.TypeFor[corev1.Container](), field: "imagePullPolicy",
			want: jsonSchema{Type: "string"}},
		{name: "v2 struct fields refer to definitions beside their description", typ: reflect.TypeFor[appsv1.DeploymentSpec](), field: "template",
			want: jsonSchema{Ref: "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"}},
		{name: "v3 struct fields wrap the reference in allOf", dialect: openAPI3, typ: reflect.TypeFor[appsv1.DeploymentSpec](), field: "template",
			want: jsonSchema{AllOf: []*jsonSchema{{Ref: "#/components/schemas/io.k8s.api.core.v1.PodTemplateSpec"}}}},
		{name: "merge lists carry strategy and key", typ: reflect.TypeFor[corev1.PodSpec](), field: "containers",
			want: jsonSchema{Type: "array", Items: &jsonSchema{Ref: "#/definitions/io.k8s.api.core.v1.Container"},
				PatchStrategy: "merge", PatchMergeKey: "name", ListType: "map", ListMapKeys: []string{"name"}}},
		{name: "combined strategies are kept whole", typ: reflect.TypeFor[corev1.PodSpec](), field: "volumes",
			want: jsonSchema{Type: "array", Items: &jsonSchema{Ref: "#/definitions/io.k8s.api.core.v1.Volume"},
				PatchStrategy: "merge,retainKeys", PatchMergeKey: "name", ListType: "map", ListMapKeys: []string{"name"}}},
		{name: "list-map keys beyond the merge key come from the markers", typ: reflect.TypeFor[corev1.ServiceSpec](), field: "ports",
			want: jsonSchema{Type: "array", Items: &jsonSchema{Ref: "#/definitions/io.k8s.api.core.v1.ServicePort"},
				PatchStrategy: "merge", PatchMergeKey: "port", ListType: "map", ListMapKeys: []string{"port", "protocol"}}},
		{name: "scalar defaults are kept: list-map keys are filled in with them", typ: reflect.TypeFor[corev1.ContainerPort](), field: "protocol",
			want: jsonSchema{Type: "string", Default: "TCP"}},
		{name: "lists of scalars may be sets", typ: reflect.TypeFor[metav1.ObjectMeta](), field: "finalizers",
			want: jsonSchema{Type: "array", Items: &jsonSchema{Type: "string"}, PatchStrategy: "merge", ListType: "set"}},
		{name: "atomic lists say so", typ: reflect.TypeFor[corev1.Container](), field: "args",
			want: jsonSchema{Type: "array", Items: &jsonSchema{Type: "string"}, ListType: "atomic"}},
		{name: "atomic maps say so", typ: reflect.TypeFor[corev1.ServiceSpec](), field: "selector",
			want: jsonSchema{Type: "object", AdditionalProperties: &jsonSchema{Type: "string"}, MapType: "atomic"}},
		{name: "v3 retainKeys struct keeps its strategy beside allOf", dialect: openAPI3, typ: reflect.TypeFor[appsv1.DeploymentSpec](), field: "strategy",
			want: jsonSchema{AllOf: []*jsonSchema{{Ref: "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}}, PatchStrategy: "retainKeys"}},
		{name: "v3 items refer directly", dialect: openAPI3, typ: reflect.TypeFor[appsv1.DeploymentStatus](), field: "conditions",
			want: jsonSchema{Type: "array", Items: &jsonSchema{Ref: "#/components/schemas/io.k8s.api.apps.v1.DeploymentCondition"},
				PatchStrategy: "merge", PatchMergeKey: "type", ListType: "map", ListMapKeys: []string{"type"}}},
		{name: "atomic structs say so", typ: reflect.TypeFor[metav1.LabelSelector](),
			want: jsonSchema{Type: "object", Properties: fieldSchema(t, swagger2, reflect.TypeFor[metav1.LabelSelector](), "").Properties, MapType: "atomic"}},
		{name: "lease times are MicroTime", typ: reflect.TypeFor[coordinationv1.LeaseSpec](), field: "renewTime",
			want: jsonSchema{Ref: "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fieldSchema(t, tt.dialect, tt.typ, tt.field)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("schema = %s\nwant %s", mustJSON(t, got), mustJSON(t, tt.want))
			}
		})
	}
}

func TestProperties(t *testing.T) {
	tests := []struct {
		name         string
		typ          reflect.Type
		want, absent []string
	}{
		{name: "TypeMeta is flattened into kinds", typ: reflect.TypeFor[appsv1.Deployment](),
			want: []string{"apiVersion", "kind", "metadata", "spec", "status"}, absent: []string{"TypeMeta", "ObjectMeta"}},
		{name: "VolumeSource is flattened into Volume", typ: reflect.TypeFor[corev1.Volume](),
			want: []string{"name", "configMap", "emptyDir", "secret"}, absent: []string{"VolumeSource"}},
		{name: "json:\"-\" fields are left out", typ: reflect.TypeFor[runtime.RawExtension](),
			absent: []string{"Raw", "Object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fieldSchema(t, swagger2, tt.typ, "")
			for _, p := range tt.want {
				if s.Properties[p] == nil {
					t.Errorf("missing property %q", p)
				}
			}
			for _, p := range tt.absent {
				if s.Properties[p] != nil {
					t.Errorf("unexpected property %q", p)
				}
			}
		})
	}
}

func TestRequired(t *testing.T) {
	tests := []struct {
		name string
		typ  reflect.Type
		want []string
	}{
		{name: "fields without omitempty are required", typ: reflect.TypeFor[corev1.Container](), want: []string{"name"}},
		{name: "pointers without omitempty are required", typ: reflect.TypeFor[appsv1.DeploymentSpec](), want: []string{"selector", "template"}},
		{name: "objects require nothing", typ: reflect.TypeFor[appsv1.Deployment]()},
		{name: "metadata requires nothing", typ: reflect.TypeFor[metav1.ObjectMeta]()},
		{name: "+optional without omitempty is optional", typ: reflect.TypeFor[appsv1.DeploymentCondition]()},
		{name: "+optional lists without omitempty are optional", typ: reflect.TypeFor[discoveryv1.EndpointSlice](), want: []string{"addressType"}},
		{name: "inline fields keep their own rules", typ: reflect.TypeFor[corev1.Volume](), want: []string{"name"}},
		{name: "owner references require their identity", typ: reflect.TypeFor[metav1.OwnerReference](),
			want: []string{"apiVersion", "kind", "name", "uid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slices.Sorted(slices.Values(fieldSchema(t, swagger2, tt.typ, "").Required))
			if !slices.Equal(got, tt.want) {
				t.Errorf("required = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDescriptions(t *testing.T) {
	defs := newDefinitions(openAPI3, map[reflect.Type][]gvk{})
	if _, err := defs.define(reflect.TypeFor[appsv1.Deployment]()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, def, field, want string
	}{
		{name: "type description is SwaggerDoc's empty key", def: "io.k8s.api.apps.v1.Deployment",
			want: appsv1.Deployment{}.SwaggerDoc()[""]},
		{name: "field description is SwaggerDoc's json name", def: "io.k8s.api.apps.v1.DeploymentSpec", field: "strategy",
			want: appsv1.DeploymentSpec{}.SwaggerDoc()["strategy"]},
		{name: "flattened fields are described by their own type", def: "io.k8s.api.apps.v1.Deployment", field: "kind",
			want: metav1.TypeMeta{}.SwaggerDoc()["kind"]},
		{name: "types without SwaggerDoc are described too", def: "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
			want: undocumented("io.k8s.apimachinery.pkg.util.intstr.IntOrString")[""]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := defs.schemas[tt.def]
			if s == nil {
				t.Fatalf("no definition %s", tt.def)
			}
			if tt.field != "" {
				s = s.Properties[tt.field]
			}
			if s.Description == "" || s.Description != tt.want {
				t.Errorf("description = %q, want %q", s.Description, tt.want)
			}
		})
	}
}

func TestDefinitionName(t *testing.T) {
	tests := []struct {
		name string
		typ  reflect.Type
		want string
	}{
		{name: "k8s.io/api", typ: reflect.TypeFor[appsv1.Deployment](), want: "io.k8s.api.apps.v1.Deployment"},
		{name: "core group", typ: reflect.TypeFor[corev1.Pod](), want: "io.k8s.api.core.v1.Pod"},
		{name: "apimachinery meta", typ: reflect.TypeFor[metav1.ObjectMeta](), want: "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
		{name: "apimachinery util", typ: reflect.TypeFor[intstr.IntOrString](), want: "io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
		{name: "other domains are reversed too", typ: reflect.TypeFor[runtimeShape](), want: "com.github.skiff-dev.skiff.internal.apiserver.openapi.runtimeShape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := definitionName(tt.typ); got != tt.want {
				t.Errorf("definitionName = %q, want %q", got, tt.want)
			}
		})
	}
}

// runtimeShape is a type outside k8s.io, to check how other domains are named.
type runtimeShape struct{}

func TestDefineRejectsUnsupportedTypes(t *testing.T) {
	type withChannel struct {
		C chan int `json:"c"`
	}
	defs := newDefinitions(swagger2, map[reflect.Type][]gvk{})
	if _, err := defs.define(reflect.TypeFor[withChannel]()); err == nil {
		t.Fatal("define accepted a channel field")
	}
	if _, ok := defs.schemas[definitionName(reflect.TypeFor[withChannel]())]; ok {
		t.Error("a failed definition was kept")
	}
}
