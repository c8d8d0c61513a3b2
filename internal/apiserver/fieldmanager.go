package apiserver

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"github.com/skiff-dev/skiff/internal/registry"
)

// Managed fields. Every write of an object records in its metadata.managedFields which fields
// its writer (the field manager) set, and server-side apply merges a patch by that record, as
// kube-apiserver does: with apimachinery's field manager, one per served resource and version and
// per writing subresource, built once at startup over a type converter made from the server's
// OpenAPI v3 models. The handlers hand it every create, update and patch before the kind's
// strategy runs, so that it sees the object as the writer sent it (defaulted, as upstream's
// decoding defaults it); server-internal changes (bindings, finalizers, deletion marks) are
// not attributed to anyone, as upstream's are not.

// fieldManagers are one served resource's field managers: the main resource's and, when served,
// those of the status and scale subresources. A scale write is recorded on the parent object
// as the field manager of the "scale" subresource owning spec.replicas, which is what
// upstream's scale handler makes of it.
type fieldManagers struct {
	main, status, scale *managedfields.FieldManager
}

// newFieldManagers builds sv's field managers over tc. Kinds that store nothing (reviews) have
// none.
func newFieldManagers(tc managedfields.TypeConverter, sv *served) (fieldManagers, error) {
	var fm fieldManagers
	res := sv.res
	if res.Review != nil {
		return fm, nil
	}
	vs := versions{res: res}
	tc = typeConverter{tc}
	kind := sv.gv.WithKind(res.Kind)
	hub := res.GVR.GroupVersion()
	build := func(sub string, reset []fieldpath.Path) (*managedfields.FieldManager, error) {
		var resetFields map[fieldpath.APIVersion]fieldpath.Filter
		if len(reset) > 0 {
			filter := fieldpath.NewExcludeSetFilter(fieldpath.NewSet(reset...))
			resetFields = map[fieldpath.APIVersion]fieldpath.Filter{fieldpath.APIVersion(hub.String()): filter}
			for _, alt := range res.Versions {
				resetFields[fieldpath.APIVersion(alt.GroupVersion.String())] = filter
			}
		}
		m, err := managedfields.NewDefaultFieldManager(tc, vs, vs, vs, kind, hub, sub, resetFields)
		if err != nil {
			return nil, fmt.Errorf("apiserver: field manager of %s %s: %w", kind, sub, err)
		}
		return m, nil
	}
	var err error
	if fm.main, err = build("", res.ResetFields); err != nil {
		return fm, err
	}
	if hasSubresource(sv, "status") {
		if fm.status, err = build("status", res.StatusResetFields); err != nil {
			return fm, err
		}
	}
	if hasSubresource(sv, "scale") {
		if fm.scale, err = build("scale", nil); err != nil {
			return fm, err
		}
	}
	return fm, nil
}

// typeConverter is the field managers' type converter, which leaves metadata.managedFields out
// of the typed values it makes. The field manager strips those fields from every set it records
// and replaces them after each write, so what a typed value says of them never matters; but a
// typed value of a stored object would otherwise carry every entry of its record, each FieldsV1
// converted through JSON, on every write.
type typeConverter struct{ managedfields.TypeConverter }

func (c typeConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	return c.TypeConverter.ObjectToTyped(withoutManagedFields(obj), opts...)
}

// withoutManagedFields returns obj, or a shallow copy of it without managed fields if it has
// some. obj is not changed: it may be the watch cache's.
func withoutManagedFields(obj runtime.Object) runtime.Object {
	m, err := meta.Accessor(obj)
	if err != nil || len(m.GetManagedFields()) == 0 {
		return obj
	}
	v := reflect.ValueOf(obj)
	if _, ok := obj.(*unstructured.Unstructured); ok || v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return obj
	}
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	out := c.Interface().(runtime.Object)
	metaOf(out).SetManagedFields(nil)
	return out
}

// of returns the field manager of subresource ("" for the main resource), nil if it has none.
func (fm fieldManagers) of(subresource string) *managedfields.FieldManager {
	switch subresource {
	case "":
		return fm.main
	case "status":
		return fm.status
	case "scale":
		return fm.scale
	}
	return nil
}

// track records in obj's managed fields what manager changed from cur (nil on create: an empty
// object) through subresource. obj is at the storage version.
func (s *Server) track(sv *served, subresource string, cur, obj runtime.Object, manager string) runtime.Object {
	fm := sv.fields.of(subresource)
	if fm == nil {
		return obj
	}
	if cur == nil {
		cur = sv.res.New()
		cur.GetObjectKind().SetGroupVersionKind(sv.res.GVR.GroupVersion().WithKind(sv.res.Kind))
	}
	return fm.UpdateNoErrors(cur, obj, manager)
}

// apply merges the apply patch (an object at sv's version) into cur (at the storage version; an
// empty object when the apply creates it) for manager, as fieldmanager.Apply does: a conflict
// with the fields another manager owns is a 409 naming them, unless force.
func (s *Server) apply(sv *served, subresource string, cur runtime.Object, patch *unstructured.Unstructured, manager string, force bool) (runtime.Object, error) {
	fm := sv.fields.of(subresource)
	if fm == nil {
		return nil, apierrors.NewMethodNotSupported(sv.cache.gr, "apply")
	}
	out, err := fm.Apply(cur, patch, manager, force)
	if err != nil {
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			return nil, err
		}
		// As kube-apiserver answers an error that is not a Status: 500 with the message alone.
		return nil, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: 500, Reason: metav1.StatusReasonUnknown, Message: err.Error(),
		}}
	}
	return out, nil
}

// managerOrUserAgent names the writer of a write without a fieldManager parameter as upstream
// does: the user agent up to its first "/" ("kubectl", "kube-controller-manager"), without
// unprintable characters, cut to the longest field manager allowed.
func managerOrUserAgent(manager, userAgent string) string {
	if manager != "" {
		return manager
	}
	product, _, _ := strings.Cut(userAgent, "/")
	var b bytes.Buffer
	for _, r := range product {
		if !unicode.IsPrint(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > metav1validation.FieldManagerMaxLength {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// versions are one resource's served versions as the field manager needs them: it creates,
// defaults and converts objects of the resource between its storage version (the hub) and its
// other versions, and turns the unstructured objects of merges into typed ones.
type versions struct{ res *registry.Resource }

var (
	_ runtime.ObjectConvertor = versions{}
	_ runtime.ObjectCreater   = versions{}
	_ runtime.ObjectDefaulter = versions{}
)

// New returns an empty object of kind at one of the resource's versions.
func (v versions) New(kind schema.GroupVersionKind) (runtime.Object, error) {
	obj, ok := v.newAt(kind.GroupVersion())
	if !ok || kind.Kind != v.res.Kind {
		return nil, runtime.NewNotRegisteredErrForKind("skiff", kind)
	}
	return obj, nil
}

func (v versions) newAt(gv schema.GroupVersion) (runtime.Object, bool) {
	if gv == v.res.GVR.GroupVersion() {
		obj := v.res.New()
		obj.GetObjectKind().SetGroupVersionKind(gv.WithKind(v.res.Kind))
		return obj, true
	}
	if alt := v.alt(gv); alt != nil {
		obj := alt.New()
		obj.GetObjectKind().SetGroupVersionKind(gv.WithKind(v.res.Kind))
		return obj, true
	}
	return nil, false
}

func (v versions) alt(gv schema.GroupVersion) *registry.AltVersion {
	for i := range v.res.Versions {
		if v.res.Versions[i].GroupVersion == gv {
			return &v.res.Versions[i]
		}
	}
	return nil
}

// Default applies the defaults of obj's version.
func (v versions) Default(obj runtime.Object) {
	gv, ok := v.versionOf(obj)
	if !ok {
		return
	}
	if alt := v.alt(gv); alt != nil {
		if alt.Default != nil {
			alt.Default(obj)
		}
		return
	}
	if v.res.Default != nil {
		v.res.Default(obj)
	}
}

// versionOf tells obj's version by its Go type, which differs between versions.
func (v versions) versionOf(obj runtime.Object) (schema.GroupVersion, bool) {
	t := reflect.TypeOf(obj)
	if t == reflect.TypeOf(v.res.New()) {
		return v.res.GVR.GroupVersion(), true
	}
	for _, alt := range v.res.Versions {
		if t == reflect.TypeOf(alt.New()) {
			return alt.GroupVersion, true
		}
	}
	return schema.GroupVersion{}, false
}

// ConvertToVersion converts in (typed at any of the resource's versions, or unstructured) to
// the version target names. An object already at that version is returned as it is.
func (v versions) ConvertToVersion(in runtime.Object, target runtime.GroupVersioner) (runtime.Object, error) {
	if u, ok := in.(*unstructured.Unstructured); ok {
		gvk := u.GroupVersionKind()
		typed, ok := v.newAt(gvk.GroupVersion())
		if !ok || gvk.Kind != v.res.Kind {
			return nil, fmt.Errorf("apiserver: %s is not a version of %s", gvk, v.res.Kind)
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed); err != nil {
			return nil, fmt.Errorf("apiserver: convert %s from unstructured: %w", gvk, err)
		}
		typed.GetObjectKind().SetGroupVersionKind(gvk)
		in = typed
	}
	from, ok := v.versionOf(in)
	if !ok {
		return nil, fmt.Errorf("apiserver: %T is not a version of %s", in, v.res.Kind)
	}
	to, ok := v.targetOf(target)
	if !ok {
		return nil, fmt.Errorf("apiserver: %s is not served at %v", v.res.Kind, target)
	}
	if from == to {
		if in.GetObjectKind().GroupVersionKind().Empty() {
			in.GetObjectKind().SetGroupVersionKind(to.WithKind(v.res.Kind))
		}
		return in, nil
	}
	stored := in
	if alt := v.alt(from); alt != nil {
		var err error
		if stored, err = alt.ToStorage(in); err != nil {
			return nil, err
		}
	}
	out := stored
	if alt := v.alt(to); alt != nil {
		var err error
		if out, err = alt.FromStorage(stored); err != nil {
			return nil, err
		}
	}
	out.GetObjectKind().SetGroupVersionKind(to.WithKind(v.res.Kind))
	return out, nil
}

// targetOf picks the version a GroupVersioner names among the resource's.
func (v versions) targetOf(target runtime.GroupVersioner) (schema.GroupVersion, bool) {
	if gv, ok := target.(schema.GroupVersion); ok {
		return gv, true
	}
	kinds := []schema.GroupVersionKind{v.res.GVR.GroupVersion().WithKind(v.res.Kind)}
	for _, alt := range v.res.Versions {
		kinds = append(kinds, alt.GroupVersion.WithKind(v.res.Kind))
	}
	gvk, ok := target.KindForGroupVersionKinds(kinds)
	return gvk.GroupVersion(), ok
}

// Convert is not used by the field manager.
func (v versions) Convert(in, out, context interface{}) error {
	return fmt.Errorf("apiserver: convert %T to %T: not supported", in, out)
}

// ConvertFieldLabel is not used by the field manager.
func (v versions) ConvertFieldLabel(gvk schema.GroupVersionKind, label, value string) (string, string, error) {
	return "", "", fmt.Errorf("apiserver: field label %q of %s: not supported", label, gvk)
}
