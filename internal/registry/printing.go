package registry

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// printer is how one kind appears in kubectl get: its table columns, the cells of one object's
// row at a given time, and its field-selector fields beyond metadata.name and metadata.namespace.
//
// Rows always carry every column, -o wide ones included: like upstream's API server, which
// prints with Wide set and leaves hiding priority-1 columns to kubectl.
type printer struct {
	columns []metav1.TableColumnDefinition
	row     func(obj runtime.Object, now time.Time) []interface{}
	fields  func(obj runtime.Object) fields.Set // nil: no fields beyond the metadata ones
}

// defaultPrinter is the table upstream's API server serves for a resource without its own
// printer: the name and the creation time in RFC 3339.
func defaultPrinter() printer {
	return printer{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
		},
		row: func(obj runtime.Object, _ time.Time) []interface{} {
			m, err := meta.Accessor(obj)
			if err != nil {
				return nil
			}
			return []interface{}{m.GetName(), m.GetCreationTimestamp().UTC().Format(time.RFC3339)}
		},
	}
}

// rowFor adapts a row function over one Go type; an object of any other type has no cells.
func rowFor[T runtime.Object](f func(T, time.Time) []interface{}) func(runtime.Object, time.Time) []interface{} {
	return func(obj runtime.Object, now time.Time) []interface{} {
		t, ok := obj.(T)
		if !ok {
			return nil
		}
		return f(t, now)
	}
}

// fieldsFor adapts a field-set function over one Go type; an object of any other type has none.
func fieldsFor[T runtime.Object](f func(T) fields.Set) func(runtime.Object) fields.Set {
	return func(obj runtime.Object) fields.Set {
		t, ok := obj.(T)
		if !ok {
			return nil
		}
		return f(t)
	}
}

// nameColumn is the NAME column every kind's table starts with.
func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name",
		Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]}
}

// ageColumn is the AGE column, a string computed at print time.
func ageColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string",
		Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]}
}

// age is how long before now t was, as kubectl prints it ("5m", "3d4h"); "<unknown>" for a
// zero time.
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// microAge is age for a MicroTime.
func microAge(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// orNone returns s, or "<none>" when s is empty.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
