package openapi

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// dialect is the OpenAPI version a schema is written for. The two differ in where references
// point, in how a reference carries a description, and in how multi-type scalars are written.
type dialect int

const (
	swagger2 dialect = iota
	openAPI3
)

// ref returns the JSON reference to the named definition.
func (d dialect) ref(name string) string {
	if d == openAPI3 {
		return "#/components/schemas/" + name
	}
	return "#/definitions/" + name
}

// definitions holds the named schemas of Go types, built on demand by define, in one dialect.
// Struct types and types that describe their own schema (metav1.Time, resource.Quantity,
// intstr.IntOrString, ...) become definitions; every other type is written inline.
type definitions struct {
	dialect dialect
	// kinds are the group-version-kinds each Go type is served as.
	kinds map[reflect.Type][]gvk
	// schemas by definition name; deps lists the definitions each one refers to.
	schemas map[string]*jsonSchema
	deps    map[string][]string
}

func newDefinitions(d dialect, kinds map[reflect.Type][]gvk) *definitions {
	return &definitions{dialect: d, kinds: kinds, schemas: map[string]*jsonSchema{}, deps: map[string][]string{}}
}

// define makes sure t has a definition and returns its name; t is a struct or self-describing
// type (pointers are followed).
func (d *definitions) define(t reflect.Type) (string, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := definitionName(t)
	if _, ok := d.schemas[name]; ok {
		return name, nil
	}
	s := &jsonSchema{}
	d.schemas[name] = s // before walking, so recursive types terminate
	deps := map[string]bool{}
	if special, ok := d.selfDescribed(t); ok {
		*s = *special
	} else {
		if t.Kind() != reflect.Struct {
			delete(d.schemas, name)
			return "", fmt.Errorf("openapi: define %s: a definition must be a struct, not a %s", name, t.Kind())
		}
		s.Type = "object"
		if err := d.addFields(s, t, deps); err != nil {
			delete(d.schemas, name)
			return "", fmt.Errorf("openapi: define %s: %w", name, err)
		}
	}
	if s.Description == "" {
		s.Description = typeDocs(t)[""]
	}
	s.MapType = upstreamMarkers[name].mapType
	s.GroupVersionKinds = d.kinds[t]
	for dep := range deps {
		d.deps[name] = append(d.deps[name], dep)
	}
	slices.Sort(d.deps[name])
	return name, nil
}

// closure returns the names of roots and of every definition they refer to, directly or not.
func (d *definitions) closure(roots []string) map[string]*jsonSchema {
	out := map[string]*jsonSchema{}
	queue := slices.Clone(roots)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if _, done := out[name]; done {
			continue
		}
		out[name] = d.schemas[name]
		queue = append(queue, d.deps[name]...)
	}
	return out
}

// selfDescribed returns the schema of a type that declares it with OpenAPISchemaType, the way
// k8s.io/apimachinery's Time, MicroTime, Duration, Quantity and IntOrString do.
func (d *definitions) selfDescribed(t reflect.Type) (*jsonSchema, bool) {
	if t == reflect.TypeFor[time.Time]() {
		return &jsonSchema{Type: "string", Format: "date-time"}, true
	}
	v := reflect.New(t).Interface()
	typed, ok := v.(interface {
		OpenAPISchemaType() []string
		OpenAPISchemaFormat() string
	})
	if !ok {
		return nil, false
	}
	s := &jsonSchema{Format: typed.OpenAPISchemaFormat()}
	if oneOf, ok := v.(interface{ OpenAPIV3OneOfTypes() []string }); ok && d.dialect == openAPI3 {
		for _, typ := range oneOf.OpenAPIV3OneOfTypes() {
			s.OneOf = append(s.OneOf, &jsonSchema{Type: typ})
		}
	} else if types := typed.OpenAPISchemaType(); len(types) > 0 {
		s.Type = types[0]
	}
	// Structural-schema consumers recognise int-or-string by this marker rather than the format.
	s.IntOrString = d.dialect == openAPI3 && s.Format == "int-or-string"
	return s, true
}

// addFields adds the JSON fields of struct t to s, flattening embedded structs without a JSON name
// as encoding/json does (TypeMeta, VolumeSource, ...).
func (d *definitions) addFields(s *jsonSchema, t reflect.Type, deps map[string]bool) error {
	docs := typeDocs(t)
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if err := d.addFields(s, ft, deps); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		prop, err := d.inline(f.Type, deps)
		if err != nil {
			return fmt.Errorf("field %s.%s: %w", t.Name(), f.Name, err)
		}
		if s.Properties == nil {
			s.Properties = map[string]*jsonSchema{}
		}
		s.Properties[name] = d.describe(prop, docs[name], f.Tag.Get("patchStrategy"), f.Tag.Get("patchMergeKey"), upstreamMarkers[definitionName(t)+"#"+name])
		if isRequired(t, name, opts) {
			s.Required = append(s.Required, name)
		}
	}
	return nil
}

// describe attaches a field's description, patch extensions and markers to its schema. In v3 a
// sibling of $ref is ignored, so the reference is wrapped in allOf, as upstream does.
func (d *definitions) describe(s *jsonSchema, description, strategy, mergeKey string, m marker) *jsonSchema {
	if s.Ref != "" && d.dialect == openAPI3 && (description != "" || strategy != "" || mergeKey != "" || m.mapType != "") {
		s = &jsonSchema{AllOf: []*jsonSchema{s}}
	}
	s.Description = description
	s.PatchStrategy = strategy
	s.PatchMergeKey = mergeKey
	if s.Type == "array" {
		s.ListType, s.ListMapKeys = m.listType, m.listMapKeys
	}
	if s.Type == "object" || s.Ref != "" || len(s.AllOf) > 0 {
		s.MapType = m.mapType
	}
	s.Default = m.defaultValue
	return s
}

// marker is what a type's or field's comment markers say about how it merges, which the structs
// do not carry: +listType (atomic, set or map) with +listMapKey, +mapType or +structType
// atomic, and +default. Server-side apply merges lists and maps by them; upstreamMarkers lists them.
//
//go:generate go run ./internal/genmarkers
type marker struct {
	listType    string
	listMapKeys []string
	mapType     string
	// defaultValue is a scalar +default other than the zero value: a merge fills in list-map
	// keys with it (a port's protocol, TCP).
	defaultValue any
}

// inline returns the schema of a field, item or map value of type t: a reference for structs and
// self-describing types, an inline schema otherwise. It records referenced definitions in deps.
func (d *definitions) inline(t reflect.Type, deps map[string]bool) (*jsonSchema, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if _, ok := d.selfDescribed(t); ok || t.Kind() == reflect.Struct {
		name, err := d.define(t)
		if err != nil {
			return nil, err
		}
		deps[name] = true
		return &jsonSchema{Ref: d.dialect.ref(name)}, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return &jsonSchema{Type: "boolean"}, nil
	case reflect.String:
		return &jsonSchema{Type: "string"}, nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return &jsonSchema{Type: "integer", Format: "int32"}, nil
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return &jsonSchema{Type: "integer", Format: "int64"}, nil
	case reflect.Float32:
		return &jsonSchema{Type: "number", Format: "float"}, nil
	case reflect.Float64:
		return &jsonSchema{Type: "number", Format: "double"}, nil
	case reflect.Interface:
		return &jsonSchema{}, nil // any JSON value
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return &jsonSchema{Type: "string", Format: "byte"}, nil // base64, as encoding/json writes []byte
		}
		items, err := d.inline(t.Elem(), deps)
		if err != nil {
			return nil, err
		}
		return &jsonSchema{Type: "array", Items: items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map key %s is not a string", t.Key())
		}
		values, err := d.inline(t.Elem(), deps)
		if err != nil {
			return nil, err
		}
		return &jsonSchema{Type: "object", AdditionalProperties: values}, nil
	default:
		return nil, fmt.Errorf("no JSON schema for Go kind %s (%s)", t.Kind(), t)
	}
}

// definitionName names a Go type as upstream does: the package path with its domain reversed and
// slashes turned to dots, then the type name ("io.k8s.api.apps.v1.Deployment").
func definitionName(t reflect.Type) string {
	host, rest, _ := strings.Cut(t.PkgPath(), "/")
	if strings.Contains(host, ".") {
		parts := strings.Split(host, ".")
		slices.Reverse(parts)
		host = strings.Join(parts, ".")
	}
	if rest != "" {
		host += "." + strings.ReplaceAll(rest, "/", ".")
	}
	return host + "." + t.Name()
}

// typeDocs returns the descriptions of t and its fields, keyed "" for the type and by JSON name
// for fields: k8s.io/api types carry them as SwaggerDoc; a few apimachinery types do not.
func typeDocs(t reflect.Type) map[string]string {
	if documented, ok := reflect.New(t).Interface().(interface{ SwaggerDoc() map[string]string }); ok {
		return documented.SwaggerDoc()
	}
	return undocumented(definitionName(t))
}

// undocumented describes the apimachinery types that have no SwaggerDoc.
func undocumented(name string) map[string]string {
	const meta = "io.k8s.apimachinery.pkg.apis.meta.v1."
	switch name {
	case meta + "Time":
		return map[string]string{"": "Time is a timestamp, written in RFC 3339 form with second precision."}
	case meta + "MicroTime":
		return map[string]string{"": "MicroTime is a timestamp, written in RFC 3339 form with microsecond precision."}
	case meta + "Duration":
		return map[string]string{"": "Duration is a length of time, written as a Go duration string such as \"1m30s\"."}
	case meta + "WatchEvent":
		return map[string]string{
			"":       "WatchEvent is one change to a watched collection, as sent on a watch stream.",
			"type":   "Type of the change: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.",
			"object": "Object is the object as of this change; for ERROR it is a Status, for BOOKMARK an object that carries only its kind and resourceVersion.",
		}
	case "io.k8s.apimachinery.pkg.runtime.RawExtension":
		return map[string]string{"": "RawExtension holds an embedded object of any kind, written as its own JSON object with apiVersion and kind."}
	case "io.k8s.apimachinery.pkg.api.resource.Quantity":
		return map[string]string{"": "Quantity is a fixed-point number with an optional suffix: a binary SI suffix (Ki, Mi, Gi, Ti, Pi, Ei), a decimal SI suffix (m, k, M, G, T, P, E) or a decimal exponent (e3, E-2). Examples: \"100m\" CPU, \"128Mi\" memory, \"1.5\"."}
	case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
		return map[string]string{"": "IntOrString holds either an integer or a string, written as whichever it holds; for example a port number or a port name, or a count or a percentage."}
	}
	return nil
}

// isRequired reports whether field name of struct t is required. Upstream's generator marks a
// field required unless its json tag says omitempty or its comment says +optional; the comments
// are gone at run time, so the fields marked +optional without omitempty in the served API
// packages are listed here.
func isRequired(t reflect.Type, name, jsonOpts string) bool {
	for opt := range strings.SplitSeq(jsonOpts, ",") {
		if opt == "omitempty" || opt == "omitzero" {
			return false
		}
	}
	return !optionalWithoutOmitempty[t.Name()+"."+name]
}

// optionalWithoutOmitempty are the fields, by Go type name and JSON name, of k8s.io/api (core/v1,
// apps/v1, apps/v1beta1, autoscaling/v1, discovery/v1, coordination/v1) and meta/v1 that are
// documented +optional but have no omitempty. Matching by type name across packages can only
// make a field optional, which never rejects a valid object.
var optionalWithoutOmitempty = map[string]bool{
	"AzureFilePersistentVolumeSource.secretNamespace": true,
	"ContainerImage.names":                            true,
	"ControllerRevision.revision":                     true,
	"DaemonSetCondition.status":                       true,
	"DaemonSetCondition.type":                         true,
	"DeploymentCondition.status":                      true,
	"DeploymentCondition.type":                        true,
	"DeploymentRollback.rollbackTo":                   true,
	"EndpointSlice.endpoints":                         true,
	"EndpointSlice.ports":                             true,
	"Event.reportingComponent":                        true,
	"Event.reportingInstance":                         true,
	"GRPCAction.service":                              true,
	"NodeRuntimeHandler.name":                         true,
	"ProjectedVolumeSource.sources":                   true,
	"ReplicaSetCondition.status":                      true,
	"ReplicaSetCondition.type":                        true,
	"ScaleStatus.replicas":                            true,
	"StatefulSetCondition.status":                     true,
	"StatefulSetCondition.type":                       true,
	"StatefulSetOrdinals.start":                       true,
	"StatefulSetSpec.serviceName":                     true,
	"StatefulSetStatus.availableReplicas":             true,
	"TypedLocalObjectReference.apiGroup":              true,
	"TypedObjectReference.apiGroup":                   true,
}
