package openapi

import (
	"reflect"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// param is a path or query parameter; query parameters are generated from the options structs.
type param struct {
	name, in, description, typ string
	required                   bool
}

// optionParams turns the JSON fields of an options struct (ListOptions, PatchOptions,
// PodLogOptions, ...) into query parameters, as upstream's installer does.
func optionParams(t reflect.Type) []param {
	docs := typeDocs(t)
	var params []param
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous || !f.IsExported() || name == "" || name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		typ := "string"
		switch ft.Kind() {
		case reflect.Bool:
			typ = "boolean"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			typ = "integer"
		case reflect.Struct:
			if ft != reflect.TypeFor[metav1.Time]() {
				continue // a body-only field such as DeleteOptions.preconditions
			}
		}
		params = append(params, param{name: name, in: "query", typ: typ, description: docs[name]})
	}
	slices.SortFunc(params, func(a, b param) int { return strings.Compare(a.name, b.name) })
	return params
}

func withoutParams(params []param, names ...string) []param {
	return slices.DeleteFunc(slices.Clone(params), func(p param) bool { return slices.Contains(names, p.name) })
}
