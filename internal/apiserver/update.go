package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-dev/skiff/internal/registry"
	"github.com/skiff-dev/skiff/internal/storage"
)

// updateMode says which rules an update runs.
type updateMode int

const (
	modeMain   updateMode = iota // the main resource: PrepareForUpdate, Validate, ValidateUpdate
	modeStatus                   // the status subresource
	modeRaw                      // server-internal changes (binding, finalize, deletion marks): no rules
)

// tryUpdate computes the new object from the current one (a deep copy the function may modify).
type tryUpdate func(cur runtime.Object) (runtime.Object, error)

// updateOpts controls guaranteedUpdate.
type updateOpts struct {
	mode   updateMode
	dryRun bool
	// retry re-runs fn on a storage conflict (patch, scale); PUT with a resourceVersion doesn't.
	retry bool
	// manager is who writes, for the managed fields (see writeOpts); applied says fn's result
	// is a server-side apply's, which its field manager has already recorded.
	manager string
	applied bool
	// subresource is the subresource written in modeMain ("scale"); modeStatus writes "status".
	subresource string
}

// with returns o with the options of a write request.
func (o updateOpts) with(w writeOpts) updateOpts {
	o.dryRun, o.manager, o.applied = w.dryRun, w.manager, w.applied
	return o
}

// maxUpdateAttempts bounds the read-modify-write retries of one update.
const maxUpdateAttempts = 20

// guaranteedUpdate reads the current object, applies fn, the managed fields, the system
// metadata, the kind's strategy and admission, and writes the result with compare-and-swap on the revision read,
// retrying on conflict when opts.retry. An update that changes nothing is not written. An
// object with a deletionTimestamp that nothing holds any more is deleted.
func (s *Server) guaranteedUpdate(ctx context.Context, sv *served, namespace, name string, opts updateOpts, fn tryUpdate) (runtime.Object, error) {
	res := sv.res
	gvk := res.GVR.GroupVersion().WithKind(res.Kind)
	allocates := res.Allocate != nil && opts.mode == modeMain
	if allocates {
		s.allocMu.Lock()
		defer s.allocMu.Unlock()
	}
	defer s.keyLocks.lock(sv.cache.key(namespace, name))()
	for attempt := 0; ; attempt++ {
		cur, curData, err := s.getCurrentStored(ctx, sv, namespace, name)
		if err != nil {
			return nil, err
		}
		obj, err := fn(cur.DeepCopyObject())
		if err != nil {
			return nil, err
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, err
		}
		old := metaOf(cur)
		if m.GetName() != name {
			return nil, badRequest("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), name)
		}
		if res.Namespaced && m.GetNamespace() != namespace {
			if m.GetNamespace() != "" {
				return nil, badRequest("the namespace of the provided object does not match the namespace sent on the request")
			}
			m.SetNamespace(namespace)
		}
		curRV := old.GetResourceVersion()
		if rv := m.GetResourceVersion(); rv != "" && rv != curRV {
			if _, err := parseResourceVersion(rv); err != nil {
				return nil, invalidResourceVersion(rv, err)
			}
			return nil, apierrors.NewConflict(sv.cache.gr, name, errors.New(optimisticLockMsg))
		}
		if uid := m.GetUID(); uid != "" && uid != old.GetUID() {
			return nil, apierrors.NewConflict(sv.cache.gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", uid, old.GetUID()))
		}
		m.SetResourceVersion(curRV)
		if opts.mode != modeRaw && !opts.applied {
			if res.Default != nil {
				res.Default(obj) // as upstream's decoding does, before the field manager sees it
			}
			sub := opts.subresource
			if opts.mode == modeStatus {
				sub = "status"
			}
			obj = s.track(sv, sub, cur, obj, opts.manager)
			m = metaOf(obj)
		}
		if opts.mode != modeRaw {
			registry.BeforeUpdate(m, old, func() { prepareUpdate(sv, opts.mode, obj, cur) })
			if err := validateUpdate(sv, opts.mode, obj, cur); err != nil {
				return nil, err
			}
		}
		if allocates {
			if err := s.allocate(sv, obj, cur); err != nil {
				return nil, err
			}
		}
		m.SetResourceVersion(curRV)
		if s.deletable(sv, m, obj) {
			if opts.dryRun {
				return obj, nil
			}
			deleted, err := s.deleteNow(ctx, sv, namespace, name, rvOf(cur))
			if errors.Is(err, errConflictRetry) && attempt < maxUpdateAttempts {
				if err := s.catchUp(ctx); err != nil {
					return nil, err
				}
				continue
			}
			return deleted, err
		}
		newData, err := s.encodeStored(obj, gvk)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(newData, curData) {
			return cur, nil // nothing changed: no write, same resourceVersion
		}
		if opts.dryRun {
			return obj, nil
		}
		rev, err := s.cfg.Store.Update(ctx, sv.cache.key(namespace, name), newData, rvOf(cur))
		if errors.Is(err, storage.ErrConflict) && opts.retry && attempt < maxUpdateAttempts {
			if err := s.catchUp(ctx); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, storageError(err, sv.cache.gr, name)
		}
		s.noteWrite(rev)
		setRV(obj, rev)
		return obj, nil
	}
}

// catchUp waits until the cache holds every write the store has committed. A compare-and-swap
// that lost to a write this server has not noted yet (another request's, still on its way back
// to its handler, or another server's) would otherwise retry against the same stale copy.
func (s *Server) catchUp(ctx context.Context) error {
	rev, err := s.cfg.Store.Revision(ctx)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	return s.waitConsistent(ctx, strconv.FormatInt(rev, 10))
}

// prepareUpdate runs the kind's update preparation for mode: the main resource's (after its
// defaults) or the status subresource's.
func prepareUpdate(sv *served, mode updateMode, obj, cur runtime.Object) {
	res := sv.res
	switch mode {
	case modeMain:
		if res.Default != nil {
			res.Default(obj)
		}
		if res.PrepareForUpdate != nil {
			res.PrepareForUpdate(obj, cur)
		}
	case modeStatus:
		if res.PrepareForStatusUpdate != nil {
			res.PrepareForStatusUpdate(obj, cur)
		}
	}
}

// validateUpdate runs the kind's update validation for mode.
func validateUpdate(sv *served, mode updateMode, obj, cur runtime.Object) error {
	res := sv.res
	var errs field.ErrorList
	switch mode {
	case modeMain:
		if res.Validate != nil {
			errs = res.Validate(obj)
		}
		if res.ValidateUpdate != nil {
			errs = append(errs, res.ValidateUpdate(obj, cur)...)
		}
	case modeStatus:
		if res.ValidateStatusUpdate != nil {
			errs = res.ValidateStatusUpdate(obj, cur)
		}
	}
	if len(errs) > 0 {
		return invalid(res.GVR.GroupVersion().WithKind(res.Kind).GroupKind(), metaOf(obj).GetName(), errs)
	}
	return nil
}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	return s.replaceObject(w, r, info, sv, modeMain)
}

// replaceObject answers a PUT of the whole object (modeMain) or of its status subresource
// (modeStatus): the body replaces the stored object under that mode's rules, with the body's
// resourceVersion as precondition; without one the update retries on conflict.
func (s *Server) replaceObject(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served, mode updateMode) error {
	in, wo, err := s.decodeWrite(w, r, sv, "update")
	if err != nil {
		return err
	}
	m, _ := meta.Accessor(in)
	if m.GetResourceVersion() == "" && sv.res.RequireResourceVersion {
		// upstream's store names the resource here, not the kind
		gk := schema.GroupKind{Group: sv.res.GVR.Group, Kind: sv.res.GVR.Resource}
		return invalid(gk, info.Name, field.ErrorList{field.Invalid(field.NewPath("metadata", "resourceVersion"), 0, "must be specified for an update")})
	}
	out, err := s.guaranteedUpdate(r.Context(), sv, info.Namespace, info.Name,
		updateOpts{mode: mode, retry: m.GetResourceVersion() == ""}.with(wo),
		func(runtime.Object) (runtime.Object, error) { return in.DeepCopyObject(), nil })
	if err != nil {
		return err
	}
	return s.writeObject(w, r, http.StatusOK, sv, out)
}
