package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// notServed answers a request for a resource this server does not have as kube-apiserver does:
// a group-version it serves answers with go-restful's no-route error as a Status (reason NotFound,
// "the server could not find the requested resource"); any other path falls through to the
// plain-text 404 of the last handler in its chain.
func (s *Server) notServed(w http.ResponseWriter, r *http.Request, info requestInfo) {
	for k := range s.served {
		if k.group == info.Group && k.version == info.Version {
			s.writeError(w, r, apierrors.NewGenericServerResponse(http.StatusNotFound, "", schema.GroupResource{}, "", "404: Page Not Found", 0, false))
			return
		}
	}
	http.NotFound(w, r)
}

// serveResource handles every request under /api/v1/... and /apis/<group>/<version>/...
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, info requestInfo) {
	sv, ok := s.served[gvr{info.Group, info.Version, info.Resource}]
	if !ok {
		s.notServed(w, r, info)
		return
	}
	if !sv.res.Namespaced && info.Namespace != "" {
		s.writeError(w, r, apierrors.NewNotFound(sv.cache.gr, info.Name))
		return
	}
	if sv.res.Namespaced && info.Namespace == "" && info.Verb != "list" && info.Verb != "watch" {
		s.writeError(w, r, apierrors.NewNotFound(sv.cache.gr, info.Name))
		return
	}
	if info.Subresource != "" {
		s.serveSubresource(w, r, info, sv)
		return
	}
	if !slices.Contains(sv.res.Verbs, info.Verb) {
		s.writeError(w, r, apierrors.NewMethodNotSupported(sv.cache.gr, info.Verb))
		return
	}
	var err error
	switch info.Verb {
	case "get":
		err = s.handleGet(w, r, info, sv)
	case "list":
		err = s.handleList(w, r, info, sv)
	case "watch":
		err = s.handleWatch(w, r, info, sv)
	case "create":
		err = s.handleCreate(w, r, info, sv)
	case "update":
		err = s.handleUpdate(w, r, info, sv)
	case "patch":
		err = s.handlePatch(w, r, info, sv)
	case "delete":
		err = s.handleDelete(w, r, info, sv)
	case "deletecollection":
		err = s.handleDeleteCollection(w, r, info, sv)
	default:
		err = apierrors.NewMethodNotSupported(sv.cache.gr, r.Method)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

// waitConsistent waits until the cache reflects every write acknowledged before the request
// arrived, so reads observe preceding writes (resourceVersion "" semantics). A read with
// resourceVersion "0" may be served from the cache as it is.
func (s *Server) waitConsistent(ctx context.Context, rv string) error {
	var target int64
	switch rv {
	case "0":
		return nil
	case "":
		target = s.lastWrite.Load()
	default:
		n, err := strconv.ParseInt(rv, 10, 64)
		if err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %q", rv))
		}
		target = n
	}
	if s.caches.appliedRev() >= target {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.caches.waitFor(ctx, target); err != nil {
		return apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", target, s.caches.appliedRev()), 1)
	}
	return nil
}

// getCurrent returns the cached object namespace/name after waiting for consistency.
func (s *Server) getCurrent(ctx context.Context, sv *served, namespace, name string) (runtime.Object, error) {
	obj, _, err := s.getCurrentStored(ctx, sv, namespace, name)
	return obj, err
}

// getCurrentStored is getCurrent that also returns the object's stored encoding.
func (s *Server) getCurrentStored(ctx context.Context, sv *served, namespace, name string) (runtime.Object, []byte, error) {
	if err := s.waitConsistent(ctx, ""); err != nil {
		return nil, nil, err
	}
	obj, raw, ok := sv.cache.getStored(namespace, name)
	if !ok {
		return nil, nil, apierrors.NewNotFound(sv.cache.gr, name)
	}
	return obj, raw, nil
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	if err := checkReadParams(r.URL.Query()); err != nil {
		return err
	}
	if err := s.waitConsistent(r.Context(), r.URL.Query().Get("resourceVersion")); err != nil {
		return err
	}
	if sv.res.Live != nil {
		return s.getLive(w, r, info, sv)
	}
	obj, ok := sv.cache.get(info.Namespace, info.Name)
	if !ok {
		return apierrors.NewNotFound(sv.cache.gr, info.Name)
	}
	return s.writeObject(w, r, http.StatusOK, sv, obj)
}

// selectors parses labelSelector and fieldSelector into one predicate.
func (s *Server) selectors(r *http.Request, sv *served) (func(runtime.Object) bool, error) {
	q := r.URL.Query()
	ls, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		return nil, badRequest("unable to parse requirement: %v", err)
	}
	fs, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		return nil, badRequest("invalid field selector: %v", err)
	}
	if !fs.Empty() {
		// check every field is supported, against an empty object's field set
		known := s.fieldSet(sv, sv.res.New())
		for _, req := range fs.Requirements() {
			if _, ok := known[req.Field]; !ok {
				return nil, badRequest("field label not supported: %s", req.Field)
			}
		}
	}
	if ls.Empty() && fs.Empty() {
		return nil, nil
	}
	return func(obj runtime.Object) bool {
		m, err := meta.Accessor(obj)
		if err != nil {
			return false
		}
		if !ls.Matches(labels.Set(m.GetLabels())) {
			return false
		}
		return fs.Empty() || fs.Matches(s.fieldSet(sv, obj))
	}, nil
}

func (s *Server) fieldSet(sv *served, obj runtime.Object) fields.Set {
	set := fields.Set{}
	if sv.res.Fields != nil {
		for k, v := range sv.res.Fields(obj) {
			set[k] = v
		}
	}
	if m, err := meta.Accessor(obj); err == nil {
		set["metadata.name"] = m.GetName()
		if sv.res.Namespaced {
			set["metadata.namespace"] = m.GetNamespace()
		}
	}
	return set
}

// continueToken is the opaque paging cursor: the last key returned.
type continueToken struct {
	RV    int64  `json:"rv"`
	Start string `json:"start"`
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	q := r.URL.Query()
	if err := checkReadParams(q); err != nil {
		return err
	}
	pred, err := s.selectors(r, sv)
	if err != nil {
		return err
	}
	var limit int64
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.ParseInt(l, 10, 64); err != nil {
			return badRequest("invalid limit %q", l)
		}
	}
	var start string
	if c := q.Get("continue"); c != "" {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		var tok continueToken
		if err != nil || json.Unmarshal(raw, &tok) != nil {
			return badRequest("continue key is not valid: %q", c)
		}
		start = tok.Start
	}
	if err := s.waitConsistent(r.Context(), q.Get("resourceVersion")); err != nil {
		return err
	}
	rev := s.caches.appliedRev()
	var items []runtime.Object
	if sv.res.Live != nil {
		if items, err = s.listLive(r.Context(), info, sv, pred); err != nil {
			return err
		}
	} else {
		items = sv.cache.list(info.Namespace, pred)
	}
	if start != "" {
		i := 0
		for i < len(items) && itemKey(items[i]) <= start {
			i++
		}
		items = items[i:]
	}
	listMeta := metav1.ListMeta{ResourceVersion: strconv.FormatInt(rev, 10)}
	if limit > 0 && int64(len(items)) > limit {
		remaining := int64(len(items)) - limit
		items = items[:limit]
		raw, _ := json.Marshal(continueToken{RV: rev, Start: itemKey(items[len(items)-1])})
		listMeta.Continue = base64.RawURLEncoding.EncodeToString(raw)
		listMeta.RemainingItemCount = &remaining
	}
	return s.writeList(w, r, sv, items, listMeta)
}

func itemKey(obj runtime.Object) string {
	m, _ := meta.Accessor(obj)
	return m.GetNamespace() + "/" + m.GetName()
}

// writeList answers with items as the resource's List kind, a Table, or PartialObjectMetadataList.
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, sv *served, items []runtime.Object, lm metav1.ListMeta) error {
	choice, ok := s.negotiate(r, true)
	if !ok {
		return notAcceptable(r.Header.Get("Accept"))
	}
	var out runtime.Object
	switch choice.output {
	case outputTable:
		out = s.toTable(r, sv, items, lm, choice.tableGV)
	case outputPartialMetadata:
		out = partialList(items, lm, choice.metaGV)
	default:
		var err error
		if sv.alt != nil {
			list := sv.res.NewList()
			if err := meta.SetList(list, items); err != nil {
				return err
			}
			if out, err = sv.alt.FromStorage(list); err != nil {
				return err
			}
		} else {
			out = sv.res.NewList()
			if err = meta.SetList(out, items); err != nil {
				return err
			}
		}
		out.GetObjectKind().SetGroupVersionKind(sv.gv.WithKind(sv.res.ListKind))
		if lma, err := meta.ListAccessor(out); err == nil {
			lma.SetResourceVersion(lm.ResourceVersion)
			lma.SetContinue(lm.Continue)
			lma.SetRemainingItemCount(lm.RemainingItemCount)
		}
	}
	return s.encode(w, choice, http.StatusOK, out)
}

// writeObject answers with one object (converted to the served version), or a Table or
// PartialObjectMetadata of it when asked.
func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, code int, sv *served, obj runtime.Object) error {
	choice, ok := s.negotiate(r, true)
	if !ok {
		return notAcceptable(r.Header.Get("Accept"))
	}
	out, err := s.outputObject(r, sv, obj, choice)
	if err != nil {
		return err
	}
	return s.encode(w, choice, code, out)
}

func (s *Server) outputObject(r *http.Request, sv *served, obj runtime.Object, choice mediaChoice) (runtime.Object, error) {
	switch choice.output {
	case outputTable:
		rv := strconv.FormatInt(rvOf(obj), 10)
		return s.toTable(r, sv, []runtime.Object{obj}, metav1.ListMeta{ResourceVersion: rv}, choice.tableGV), nil
	case outputPartialMetadata:
		return partialObject(obj, choice.metaGV), nil
	}
	if sv.alt != nil {
		return sv.alt.FromStorage(obj)
	}
	return obj, nil
}

func (s *Server) encode(w http.ResponseWriter, choice mediaChoice, code int, obj runtime.Object) error {
	w.Header().Set("Content-Type", choice.mediaType)
	w.WriteHeader(code)
	if err := choice.info.Serializer.Encode(obj, w); err != nil {
		s.log.Debug("encode response", "err", err)
	}
	return nil
}

func partialObject(obj runtime.Object, gv string) *metav1.PartialObjectMetadata {
	m, _ := meta.Accessor(obj)
	p := &metav1.PartialObjectMetadata{ObjectMeta: objectMetaOf(m)}
	p.TypeMeta = metav1.TypeMeta{APIVersion: "meta.k8s.io/" + gv, Kind: "PartialObjectMetadata"}
	return p
}

func partialList(items []runtime.Object, lm metav1.ListMeta, gv string) *metav1.PartialObjectMetadataList {
	l := &metav1.PartialObjectMetadataList{ListMeta: lm}
	l.TypeMeta = metav1.TypeMeta{APIVersion: "meta.k8s.io/" + gv, Kind: "PartialObjectMetadataList"}
	for _, it := range items {
		m, _ := meta.Accessor(it)
		l.Items = append(l.Items, metav1.PartialObjectMetadata{ObjectMeta: objectMetaOf(m)})
	}
	return l
}

func objectMetaOf(m metav1.Object) metav1.ObjectMeta {
	if om, ok := m.(*metav1.ObjectMeta); ok {
		return *om
	}
	return metav1.ObjectMeta{
		Name: m.GetName(), GenerateName: m.GetGenerateName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
		ResourceVersion: m.GetResourceVersion(), Generation: m.GetGeneration(), CreationTimestamp: m.GetCreationTimestamp(),
		DeletionTimestamp: m.GetDeletionTimestamp(), DeletionGracePeriodSeconds: m.GetDeletionGracePeriodSeconds(),
		Labels: m.GetLabels(), Annotations: m.GetAnnotations(), OwnerReferences: m.GetOwnerReferences(),
		Finalizers: m.GetFinalizers(), ManagedFields: m.GetManagedFields(),
	}
}
