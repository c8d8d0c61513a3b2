package registry

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Test helpers: the rules of one resource, run the way the API server runs them, and validation
// errors reduced to comparable strings.

// rulesOf returns the served Resource of group/resource, whose rules the tests run.
func rulesOf(t *testing.T, group, resource string) *Resource {
	t.Helper()
	want := schema.GroupResource{Group: group, Resource: resource}
	for _, r := range All() {
		if r.GVR.GroupResource() == want && r.Validate != nil {
			return r
		}
	}
	t.Fatalf("no rules for %s/%s", group, resource)
	return nil
}

// runCreate runs a create: Default, PrepareForCreate, Validate.
func runCreate(r *Resource, obj runtime.Object) field.ErrorList {
	if r.Default != nil {
		r.Default(obj)
	}
	if r.PrepareForCreate != nil {
		r.PrepareForCreate(obj)
	}
	return r.Validate(obj)
}

// runUpdate runs an update of the main resource: Default, PrepareForUpdate, Validate, ValidateUpdate.
func runUpdate(r *Resource, obj, old runtime.Object) field.ErrorList {
	if r.Default != nil {
		r.Default(obj)
	}
	beforeUpdate(obj, old, func() { r.PrepareForUpdate(obj, old) })
	return append(r.Validate(obj), r.ValidateUpdate(obj, old)...)
}

// runStatusUpdate runs an update of the status subresource.
func runStatusUpdate(r *Resource, obj, old runtime.Object) field.ErrorList {
	beforeUpdate(obj, old, func() { r.PrepareForStatusUpdate(obj, old) })
	return r.ValidateStatusUpdate(obj, old)
}

// beforeUpdate runs prepare inside an update's system metadata, as the API server does.
func beforeUpdate(obj, old runtime.Object, prepare func()) {
	m, _ := meta.Accessor(obj)
	o, _ := meta.Accessor(old)
	BeforeUpdate(m, o, prepare)
}

// errStrings renders errors as "field: type[: detail]", without the bad value.
func errStrings(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		s := e.Field + ": " + e.Type.String()
		if e.Detail != "" {
			s += ": " + e.Detail
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// checkRuleErrs compares errors with the wanted "field: type[: detail]" strings (any order).
func checkRuleErrs(t *testing.T, errs field.ErrorList, want []string) {
	t.Helper()
	got := errStrings(errs)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n got  %q\n want %q", got, want)
	}
}

// validPodTemplate is a minimal valid pod template labeled app=web.
func validPodTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metaOf("", "", map[string]string{"app": "web"}),
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}},
		},
	}
}

// metaOf builds metadata; an empty namespace means none.
func metaOf(name, namespace string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels}
}

// markStored marks metadata as the server stores it, so it can be the old object of an update.
func markStored(m *metav1.ObjectMeta) {
	m.UID = "uid-1"
	m.ResourceVersion = "7"
	m.CreationTimestamp = metav1.Unix(1700000000, 0)
}
