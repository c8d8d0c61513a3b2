package apiserver

import (
	"context"
	"errors"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-dev/skiff/internal/registry"
	"github.com/skiff-dev/skiff/internal/storage"
)

func (s *Server) noteWrite(rev int64) {
	for {
		cur := s.lastWrite.Load()
		if rev <= cur || s.lastWrite.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// toStorage converts an object decoded at the served version to the storage version, applying
// the served version's own defaults first.
func toStorage(sv *served, obj runtime.Object) (runtime.Object, error) {
	if sv.alt == nil {
		return obj, nil
	}
	if sv.alt.Default != nil {
		sv.alt.Default(obj)
	}
	out, err := sv.alt.ToStorage(obj)
	if err != nil {
		return nil, badRequest("converting to %s: %v", sv.res.GVR.GroupVersion(), err)
	}
	return out, nil
}

// decodeWrite reads a create's or update's (verb) options and body: the object, converted to the
// storage version, and the options.
func (s *Server) decodeWrite(w http.ResponseWriter, r *http.Request, sv *served, verb string) (runtime.Object, writeOpts, error) {
	opts, err := s.writeOptions(r, verb)
	if err != nil {
		return nil, opts, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, opts, err
	}
	obj, err := s.decodeInto(w, r, body, nil, sv.gv.WithKind(sv.res.Kind))
	if err != nil {
		return nil, opts, err
	}
	if obj, err = toStorage(sv, obj); err != nil {
		return nil, opts, err
	}
	return obj, opts, nil
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	if info.Name != "" {
		return apierrors.NewMethodNotSupported(sv.cache.gr, "POST")
	}
	obj, opts, err := s.decodeWrite(w, r, sv, "create")
	if err != nil {
		return err
	}
	if sv.res.Review != nil {
		return s.review(w, r, sv, obj)
	}
	created, err := s.create(r.Context(), sv, info.Namespace, obj, opts)
	if err != nil {
		return err
	}
	return s.writeObject(w, r, http.StatusCreated, sv, created)
}

// review answers the create of a review kind: the object's status says what the server thinks
// of the requesting user; nothing is stored.
func (s *Server) review(w http.ResponseWriter, r *http.Request, sv *served, obj runtime.Object) error {
	res := sv.res
	if res.Default != nil {
		res.Default(obj)
	}
	if res.Validate != nil {
		if errs := res.Validate(obj); len(errs) > 0 {
			return invalid(res.GVR.GroupVersion().WithKind(res.Kind).GroupKind(), "", errs)
		}
	}
	if err := res.Review(obj, userOf(r.Context())); err != nil {
		return err
	}
	// A review has no table columns (upstream its storage is no TableConvertor): asked only for a
	// Table, the answer is 406, as kube-apiserver's.
	choice, ok := s.negotiateOutput(r, false, true)
	if !ok {
		return notAcceptable(r.Header.Get("Accept"))
	}
	out, err := s.outputObject(r, sv, obj, choice)
	if err != nil {
		return err
	}
	return s.encode(w, choice, http.StatusCreated, out)
}

// create is the create pipeline for obj (at the storage version): namespace lifecycle, managed
// fields, system metadata, the kind's strategy (defaults, preparation, validation), the kind's
// allocation, quota, then storage.
func (s *Server) create(ctx context.Context, sv *served, namespace string, obj runtime.Object, opts writeOpts) (runtime.Object, error) {
	dryRun := opts.dryRun
	res := sv.res
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, badRequest("object has no metadata: %v", err)
	}
	if res.Namespaced {
		if m.GetNamespace() == "" {
			m.SetNamespace(namespace)
		} else if m.GetNamespace() != namespace {
			return nil, badRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		m.SetNamespace("")
	}
	gk := res.GVR.GroupVersion().WithKind(res.Kind).GroupKind()
	generated := m.GetName() == "" && m.GetGenerateName() != ""
	if m.GetName() == "" && m.GetGenerateName() == "" {
		return nil, invalid(gk, "", field.ErrorList{field.Required(field.NewPath("metadata", "name"), "name or generateName is required")})
	}
	if generated {
		m.SetName(m.GetGenerateName() + s.nameSuffix())
	}
	if res.Namespaced {
		if err := s.admitNamespace(ctx, sv, namespace, m.GetName()); err != nil {
			return nil, err
		}
	}
	if res.Default != nil {
		res.Default(obj)
	}
	if !opts.applied {
		obj = s.track(sv, "", nil, obj, opts.manager)
		m = metaOf(obj)
	}
	registry.StampCreate(m, uuid.NewUUID(), metav1.Now())
	if res.PrepareForCreate != nil {
		res.PrepareForCreate(obj)
	}
	if res.Validate != nil {
		if errs := res.Validate(obj); len(errs) > 0 {
			return nil, invalid(gk, m.GetName(), errs)
		}
	}
	if res.Allocate != nil {
		s.allocMu.Lock()
		defer s.allocMu.Unlock()
		if err := s.waitConsistent(ctx, ""); err != nil {
			return nil, err
		}
		if err := s.allocate(sv, obj, nil); err != nil {
			return nil, err
		}
	}
	if dryRun {
		return obj, nil
	}
	if s.quotaApplies(sv, m.GetNamespace()) {
		s.quotaMu.Lock()
		defer s.quotaMu.Unlock()
		if err := s.admitQuota(ctx, sv, m.GetNamespace(), m.GetName(), obj); err != nil {
			return nil, err
		}
	}
	// A generated name that is taken is generated again, up to 8 times, as kube-apiserver
	// does; the object is encoded again each time, since its name is part of it.
	var rev int64
	for attempt := 0; ; attempt++ {
		var data []byte
		if data, err = s.encodeStored(obj, res.GVR.GroupVersion().WithKind(res.Kind)); err != nil {
			return nil, err
		}
		rev, err = s.cfg.Store.Create(ctx, sv.cache.key(m.GetNamespace(), m.GetName()), data)
		if !generated || !errors.Is(err, storage.ErrExists) || attempt == 8 {
			break
		}
		m.SetName(m.GetGenerateName() + s.nameSuffix())
	}
	if err != nil {
		if errors.Is(err, storage.ErrExists) && generated {
			return nil, apierrors.NewServerTimeout(sv.cache.gr, "POST", 1)
		}
		return nil, storageError(err, sv.cache.gr, m.GetName())
	}
	s.noteWrite(rev)
	setRV(obj, rev)
	return obj, nil
}
