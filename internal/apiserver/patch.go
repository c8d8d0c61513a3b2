package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// applyPatch applies a patch of the given type to current (JSON of the object at the served
// version); schema is a typed object of that version, for strategic merge.
func applyPatch(pt types.PatchType, current, patch []byte, schema runtime.Object) ([]byte, error) {
	switch pt {
	case types.JSONPatchType:
		var ops []interface{}
		if err := json.Unmarshal(patch, &ops); err != nil {
			return nil, badRequest("error decoding patch: %v", err)
		}
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		out, err := p.Apply(current)
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schemaGR("", ""), "", err.Error(), 0, false)
		}
		return out, nil
	case types.MergePatchType:
		var p interface{}
		if err := json.Unmarshal(patch, &p); err != nil {
			return nil, badRequest("error decoding patch: %v", err)
		}
		out, err := jsonpatch.MergePatch(current, patch)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		return out, nil
	case types.StrategicMergePatchType:
		var p map[string]interface{}
		if err := json.Unmarshal(patch, &p); err != nil {
			return nil, badRequest("error decoding patch: %v", err)
		}
		out, err := strategicpatch.StrategicMergePatch(current, patch, schema)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		return out, nil
	}
	return nil, unsupportedMediaType(string(pt))
}

func patchType(r *http.Request) (types.PatchType, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return "", unsupportedMediaType(r.Header.Get("Content-Type"))
	}
	switch pt := types.PatchType(mt); pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType:
		return pt, nil
	}
	// application/apply-patch+cbor is refused as kube-apiserver refuses it while its
	// CBORServingAndStorage feature is off, as it is by default; clients send YAML.
	return "", apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
		"the body of the request was in an unknown format - accepted media types include: "+strings.Join(patchTypes, ", "), 0, false)
}

// patchTypes are the patch content types a PATCH accepts, as upstream lists them.
var patchTypes = []string{string(types.JSONPatchType), string(types.MergePatchType), string(types.StrategicMergePatchType), string(types.ApplyYAMLPatchType)}

func (s *Server) handlePatch(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	out, created, err := s.patchObject(w, r, info, sv, modeMain)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	return s.writeObject(w, r, code, sv, out)
}

// patchObject patches the object (or its status, by mode) with the request's patch, retrying on
// conflicts unless the patch pins a resourceVersion. A server-side apply of an object that does
// not exist creates it (not through status), reported by created.
func (s *Server) patchObject(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served, mode updateMode) (out runtime.Object, created bool, err error) {
	pt, err := patchType(r)
	if err != nil {
		return nil, false, err
	}
	wo, err := s.writeOptions(r, "patch")
	if err != nil {
		return nil, false, err
	}
	fv, err := fieldValidation(r)
	if err != nil {
		return nil, false, err
	}
	patch, err := readBody(r)
	if err != nil {
		return nil, false, err
	}
	if len(patch) == 0 {
		return nil, false, badRequest("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
	}
	if pt == types.ApplyYAMLPatchType {
		return s.applyObject(w, r, info, sv, mode, wo, fv, patch)
	}
	jsonInfo, _ := s.serializerFor(runtime.ContentTypeJSON)
	gvk := sv.gv.WithKind(sv.res.Kind)
	warned := false
	out, err = s.guaranteedUpdate(r.Context(), sv, info.Namespace, info.Name, updateOpts{mode: mode, retry: true}.with(wo), func(cur runtime.Object) (runtime.Object, error) {
		served := cur
		if sv.alt != nil {
			var err error
			if served, err = sv.alt.FromStorage(cur); err != nil {
				return nil, err
			}
		}
		curJSON, err := json.Marshal(served)
		if err != nil {
			return nil, err
		}
		newJSON, err := applyPatch(pt, curJSON, patch, sv.newServed())
		if err != nil {
			return nil, err
		}
		var ww http.ResponseWriter = w
		if warned {
			ww = discardHeaders{}
		}
		warned = true
		obj, err := s.decodeWith(ww, jsonInfo, newJSON, nil, gvk, fv)
		var de decodeError
		if errors.As(err, &de) {
			// a patch that gives a field the wrong type: upstream's 422 at "patch"
			return nil, apierrors.NewInvalid(schema.GroupKind{}, "", field.ErrorList{field.Invalid(field.NewPath("patch"), string(patch), de.Error())})
		}
		if err != nil {
			return nil, err
		}
		return toStorage(sv, obj)
	})
	return out, false, err
}

// applyObject answers a server-side apply (PATCH with application/apply-patch+yaml): the field
// manager merges the patch into the stored object for wo.manager, or into an empty one, which
// is then created through the create pipeline.
func (s *Server) applyObject(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served, mode updateMode, wo writeOpts, fv string, patch []byte) (runtime.Object, bool, error) {
	applied := &unstructured.Unstructured{Object: map[string]interface{}{}}
	if err := yaml.Unmarshal(patch, &applied.Object); err != nil {
		return nil, false, badRequest("error decoding patch: %v", err)
	}
	if fv != "Ignore" {
		if err := yaml.UnmarshalStrict(patch, &map[string]interface{}{}); err != nil {
			if fv == "Strict" {
				return nil, false, badRequest("error strict decoding patch: %v", err)
			}
			addWarning(w, err.Error())
		}
	}
	sub := ""
	if mode == modeStatus {
		sub = "status"
	}
	wo.applied = true
	for attempt := 0; ; attempt++ {
		out, err := s.guaranteedUpdate(r.Context(), sv, info.Namespace, info.Name, updateOpts{mode: mode, retry: true}.with(wo), func(cur runtime.Object) (runtime.Object, error) {
			return s.apply(sv, sub, cur, applied, wo.manager, wo.force)
		})
		if !apierrors.IsNotFound(err) || mode != modeMain {
			return out, false, err
		}
		empty := sv.res.New()
		empty.GetObjectKind().SetGroupVersionKind(sv.res.GVR.GroupVersion().WithKind(sv.res.Kind))
		obj, err := s.apply(sv, sub, empty, applied, wo.manager, wo.force)
		if err != nil {
			return nil, false, err
		}
		m := metaOf(obj)
		if m.GetName() != info.Name {
			return nil, false, badRequest("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), info.Name)
		}
		if uid := m.GetUID(); uid != "" {
			return nil, false, apierrors.NewConflict(sv.cache.gr, info.Name, fmt.Errorf("uid mismatch: the provided object specified uid %s, and no existing object was found", uid))
		}
		out, err = s.create(r.Context(), sv, info.Namespace, obj, wo)
		if apierrors.IsAlreadyExists(err) && attempt < 2 {
			continue // created meanwhile: apply to it
		}
		return out, err == nil, err
	}
}

// newServed returns an empty object of the served version.
func (sv *served) newServed() runtime.Object {
	if sv.alt != nil {
		return sv.alt.New()
	}
	return sv.res.New()
}

// discardHeaders is a ResponseWriter whose headers go nowhere (warnings of retried attempts).
type discardHeaders struct{}

func (discardHeaders) Header() http.Header         { return http.Header{} }
func (discardHeaders) Write(b []byte) (int, error) { return len(b), nil }
func (discardHeaders) WriteHeader(int)             {}
