package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-dev/skiff/internal/storage"
)

// isDryRun reports whether the request asks for dryRun=All (any other value is refused).
func isDryRun(r *http.Request) (bool, error) {
	vals := r.URL.Query()["dryRun"]
	for _, v := range vals {
		if v != "All" {
			return false, badRequest("Invalid dry run value: %q, allowed values: All", v)
		}
	}
	return len(vals) > 0, nil
}

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

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	if info.Name != "" {
		return apierrors.NewMethodNotSupported(sv.cache.gr, "POST")
	}
	dryRun, err := isDryRun(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	obj, err := s.decodeInto(w, r, body, nil, sv.gv.WithKind(sv.res.Kind))
	if err != nil {
		return err
	}
	if obj, err = toStorage(sv, obj); err != nil {
		return err
	}
	created, err := s.create(r.Context(), sv, info.Namespace, obj, dryRun)
	if err != nil {
		return err
	}
	return s.writeObject(w, r, http.StatusCreated, sv, created)
}

// create runs the create pipeline for obj (at the storage version) and stores it.
func (s *Server) create(ctx context.Context, sv *served, namespace string, obj runtime.Object, dryRun bool) (runtime.Object, error) {
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
		if err := s.admitNamespace(ctx, namespace); err != nil {
			return nil, err
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
	m.SetUID(uuid.NewUUID())
	m.SetCreationTimestamp(metav1.Now())
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetManagedFields(nil)
	m.SetSelfLink("")
	if res.Default != nil {
		res.Default(obj)
	}
	if res.PrepareForCreate != nil {
		res.PrepareForCreate(obj)
	}
	errs := validateMeta(res.Namespaced, m)
	if res.Validate != nil {
		errs = append(errs, res.Validate(obj)...)
	}
	if len(errs) > 0 {
		return nil, invalid(gk, m.GetName(), dedupe(errs))
	}
	if res.GVR.Resource == "services" {
		s.allocMu.Lock()
		defer s.allocMu.Unlock()
		if err := s.waitConsistent(ctx, ""); err != nil {
			return nil, err
		}
		if err := s.allocateService(obj.(*corev1.Service), nil); err != nil {
			return nil, err
		}
	}
	if dryRun {
		return obj, nil
	}
	if res.Namespaced && res.GVR.Resource != "resourcequotas" && res.GVR.Resource != "events" && s.hasQuota(m.GetNamespace()) {
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

// validateMeta applies the object-metadata rules every kind shares.
func validateMeta(namespaced bool, m metav1.Object) field.ErrorList {
	om := objectMetaOf(m)
	nameFn := apivalidation.NameIsDNSSubdomain
	return apivalidation.ValidateObjectMeta(&om, namespaced, nameFn, field.NewPath("metadata"))
}

func dedupe(errs field.ErrorList) field.ErrorList {
	seen := map[string]bool{}
	out := field.ErrorList{}
	for _, e := range errs {
		k := e.Error()
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// admitNamespace refuses content in a namespace that does not exist or is terminating.
func (s *Server) admitNamespace(ctx context.Context, namespace string) error {
	nsCache := s.caches.byGR["namespaces"]
	if nsCache == nil {
		return nil
	}
	if err := s.waitConsistent(ctx, ""); err != nil {
		return err
	}
	obj, ok := nsCache.get("", namespace)
	if !ok {
		return apierrors.NewNotFound(schemaGR("", "namespaces"), namespace)
	}
	if ns := obj.(*corev1.Namespace); ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		return apierrors.NewForbidden(schemaGR("", "namespaces"), namespace,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", namespace))
	}
	return nil
}

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
}

// guaranteedUpdate reads the current object, applies fn and the update rules, and writes the
// result with compare-and-swap on the revision read, retrying on conflict when opts.retry.
// An update that changes nothing is not written. An object with a deletionTimestamp whose last
// finalizer is removed is deleted.
func (s *Server) guaranteedUpdate(ctx context.Context, sv *served, namespace, name string, opts updateOpts, fn tryUpdate) (runtime.Object, error) {
	res := sv.res
	gvk := res.GVR.GroupVersion().WithKind(res.Kind)
	if res.GVR.Resource == "services" && opts.mode == modeMain {
		s.allocMu.Lock()
		defer s.allocMu.Unlock()
	}
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
		old, _ := meta.Accessor(cur)
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
			return nil, apierrors.NewConflict(sv.cache.gr, name, errors.New(optimisticLockMsg))
		}
		if uid := m.GetUID(); uid != "" && uid != old.GetUID() {
			return nil, apierrors.NewConflict(sv.cache.gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", uid, old.GetUID()))
		}
		// system-owned metadata always comes from the stored object
		m.SetResourceVersion(curRV)
		m.SetUID(old.GetUID())
		m.SetCreationTimestamp(old.GetCreationTimestamp())
		m.SetGeneration(old.GetGeneration())
		m.SetSelfLink("")
		m.SetManagedFields(old.GetManagedFields())
		if old.GetDeletionTimestamp() != nil {
			m.SetDeletionTimestamp(old.GetDeletionTimestamp())
			m.SetDeletionGracePeriodSeconds(old.GetDeletionGracePeriodSeconds())
		} else if opts.mode != modeRaw {
			m.SetDeletionTimestamp(nil)
			m.SetDeletionGracePeriodSeconds(nil)
		}
		gk := gvk.GroupKind()
		switch opts.mode {
		case modeMain:
			if res.Default != nil {
				res.Default(obj)
			}
			if res.PrepareForUpdate != nil {
				res.PrepareForUpdate(obj, cur)
			}
			errs := validateMeta(res.Namespaced, m)
			errs = append(errs, apivalidation.ValidateObjectMetaUpdate(ptrMeta(m), ptrMeta(old), field.NewPath("metadata"))...)
			if res.Validate != nil {
				errs = append(errs, res.Validate(obj)...)
			}
			if res.ValidateUpdate != nil {
				errs = append(errs, res.ValidateUpdate(obj, cur)...)
			}
			if len(errs) > 0 {
				return nil, invalid(gk, name, dedupe(errs))
			}
			if res.GVR.Resource == "services" {
				if err := s.allocateService(obj.(*corev1.Service), cur.(*corev1.Service)); err != nil {
					return nil, err
				}
			}
		case modeStatus:
			if res.PrepareForStatusUpdate != nil {
				res.PrepareForStatusUpdate(obj, cur)
			}
			var errs field.ErrorList
			if res.ValidateStatusUpdate != nil {
				errs = res.ValidateStatusUpdate(obj, cur)
			}
			if len(errs) > 0 {
				return nil, invalid(gk, name, dedupe(errs))
			}
		}
		m.SetResourceVersion(curRV)
		if isDeletable(obj, m) {
			if opts.dryRun {
				return obj, nil
			}
			deleted, err := s.deleteNow(ctx, sv, namespace, name, curRV)
			if errors.Is(err, errConflictRetry) && attempt < 20 {
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
		if errors.Is(err, storage.ErrConflict) && opts.retry && attempt < 20 {
			if err := s.waitConsistent(ctx, ""); err != nil {
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

var errConflictRetry = errors.New("apiserver: conflict, retry")

func ptrMeta(m metav1.Object) *metav1.ObjectMeta {
	om := objectMetaOf(m)
	return &om
}

// isDeletable reports whether obj is marked for deletion with no grace period left and nothing
// (finalizers, or a namespace's spec finalizers) holds it any more.
func isDeletable(obj runtime.Object, m metav1.Object) bool {
	if m.GetDeletionTimestamp() == nil || len(m.GetFinalizers()) > 0 {
		return false
	}
	if ns, ok := obj.(*corev1.Namespace); ok && len(ns.Spec.Finalizers) > 0 {
		return false
	}
	g := m.GetDeletionGracePeriodSeconds()
	return g == nil || *g == 0
}

// deleteNow removes the object from storage if its revision is still rev.
func (s *Server) deleteNow(ctx context.Context, sv *served, namespace, name, rv string) (runtime.Object, error) {
	var expected int64
	fmt.Sscan(rv, &expected)
	prev, rev, err := s.cfg.Store.Delete(ctx, sv.cache.key(namespace, name), expected)
	if errors.Is(err, storage.ErrConflict) {
		return nil, errConflictRetry
	}
	if err != nil {
		return nil, storageError(err, sv.cache.gr, name)
	}
	s.noteWrite(rev)
	obj, err := s.decodeStored(prev.Value, sv.res.GVR.GroupVersion().WithKind(sv.res.Kind))
	if err != nil {
		return nil, err
	}
	setRV(obj, rev)
	return obj, nil
}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	return s.replaceObject(w, r, info, sv, modeMain)
}

// replaceObject answers a PUT of the whole object (modeMain) or of its status subresource
// (modeStatus): the body replaces the stored object under that mode's rules, with the body's
// resourceVersion as precondition; without one the update retries on conflict.
func (s *Server) replaceObject(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served, mode updateMode) error {
	dryRun, err := isDryRun(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	in, err := s.decodeInto(w, r, body, nil, sv.gv.WithKind(sv.res.Kind))
	if err != nil {
		return err
	}
	if in, err = toStorage(sv, in); err != nil {
		return err
	}
	m, _ := meta.Accessor(in)
	out, err := s.guaranteedUpdate(r.Context(), sv, info.Namespace, info.Name,
		updateOpts{mode: mode, dryRun: dryRun, retry: m.GetResourceVersion() == ""},
		func(runtime.Object) (runtime.Object, error) { return in.DeepCopyObject(), nil })
	if err != nil {
		return err
	}
	return s.writeObject(w, r, http.StatusOK, sv, out)
}

// deleteOptions reads DeleteOptions from the body or the query.
func (s *Server) deleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) > 0 {
		info, ok := s.requestSerializer(r)
		if !ok {
			return nil, unsupportedMediaType(r.Header.Get("Content-Type"))
		}
		if _, _, err := info.Serializer.Decode(body, nil, opts); err != nil {
			// DeleteOptions of any group version decode the same
			if _, _, err2 := s.codecs.UniversalDeserializer().Decode(body, nil, opts); err2 != nil {
				return nil, badRequest("invalid DeleteOptions: %v", err)
			}
		}
	}
	if err := metav1.ParameterCodec.DecodeParameters(r.URL.Query(), metav1.SchemeGroupVersion, opts); err != nil {
		return nil, badRequest("invalid delete options: %v", err)
	}
	if r.URL.Query().Has("dryRun") {
		if _, err := isDryRun(r); err != nil {
			return nil, err
		}
	}
	for _, v := range opts.DryRun {
		if v != "All" {
			return nil, badRequest("Invalid dry run value: %q", v)
		}
	}
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return nil, invalid(schemaGR("meta.k8s.io", "DeleteOptions").WithVersion("v1").GroupVersion().WithKind("DeleteOptions").GroupKind(), "",
				field.ErrorList{field.NotSupported(field.NewPath("propagationPolicy"), *opts.PropagationPolicy, []string{"Foreground", "Background", "Orphan"})})
		}
	}
	return opts, nil
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	opts, err := s.deleteOptions(r)
	if err != nil {
		return err
	}
	out, deleted, err := s.delete(r.Context(), sv, info.Namespace, info.Name, opts)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if !deleted {
		code = http.StatusAccepted
	}
	return s.writeObject(w, r, code, sv, out)
}

// delete deletes one object as kube-apiserver does: preconditions, graceful deletion of pods on
// nodes, finalizers for foreground/orphan propagation, namespaces marked Terminating. It returns
// the object and whether it is gone from storage.
func (s *Server) delete(ctx context.Context, sv *served, namespace, name string, opts *metav1.DeleteOptions) (runtime.Object, bool, error) {
	dryRun := len(opts.DryRun) > 0
	for attempt := 0; attempt < 20; attempt++ {
		cur, err := s.getCurrent(ctx, sv, namespace, name)
		if err != nil {
			return nil, false, err
		}
		m, _ := meta.Accessor(cur)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != m.GetUID() {
				return nil, false, apierrors.NewConflict(sv.cache.gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
				return nil, false, apierrors.NewConflict(sv.cache.gr, name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion()))
			}
		}
		finalizers := deletionFinalizers(m.GetFinalizers(), opts)
		grace, graceful := gracePeriod(cur, opts)
		ns, isNS := cur.(*corev1.Namespace)
		needsMark := len(finalizers) > 0 || graceful || (isNS && len(ns.Spec.Finalizers) > 0)
		if !needsMark {
			if dryRun {
				return cur, true, nil
			}
			obj, err := s.deleteNow(ctx, sv, namespace, name, m.GetResourceVersion())
			if errors.Is(err, errConflictRetry) {
				if err := s.waitConsistent(ctx, ""); err != nil {
					return nil, false, err
				}
				continue
			}
			return obj, err == nil, err
		}
		out, err := s.guaranteedUpdate(ctx, sv, namespace, name, updateOpts{mode: modeRaw, dryRun: dryRun, retry: true}, func(obj runtime.Object) (runtime.Object, error) {
			om, _ := meta.Accessor(obj)
			om.SetFinalizers(deletionFinalizers(om.GetFinalizers(), opts))
			if om.GetDeletionTimestamp() == nil {
				now := metav1.NewTime(time.Now().Add(time.Duration(grace) * time.Second))
				om.SetDeletionTimestamp(&now)
				om.SetDeletionGracePeriodSeconds(&grace)
			} else if cur := om.GetDeletionGracePeriodSeconds(); graceful && cur != nil && grace < *cur {
				// a shorter grace period may replace a longer one
				now := metav1.NewTime(time.Now().Add(time.Duration(grace) * time.Second))
				om.SetDeletionTimestamp(&now)
				om.SetDeletionGracePeriodSeconds(&grace)
			}
			if n, ok := obj.(*corev1.Namespace); ok {
				n.Status.Phase = corev1.NamespaceTerminating
			}
			return obj, nil
		})
		if err != nil {
			return nil, false, err
		}
		if _, exists := sv.cache.get(namespace, name); !exists && !dryRun {
			return out, true, nil
		}
		om, _ := meta.Accessor(out)
		return out, om.GetDeletionTimestamp() == nil, nil
	}
	return nil, false, apierrors.NewConflict(sv.cache.gr, name, errors.New(optimisticLockMsg))
}

// deletionFinalizers adds the garbage collector's finalizer for the requested propagation.
func deletionFinalizers(existing []string, opts *metav1.DeleteOptions) []string {
	out := append([]string(nil), existing...)
	has := func(f string) bool {
		for _, e := range out {
			if e == f {
				return true
			}
		}
		return false
	}
	orphan := opts.OrphanDependents != nil && *opts.OrphanDependents
	var policy metav1.DeletionPropagation
	if opts.PropagationPolicy != nil {
		policy = *opts.PropagationPolicy
	}
	switch {
	case policy == metav1.DeletePropagationOrphan || (policy == "" && orphan):
		if !has(metav1.FinalizerOrphanDependents) {
			out = append(out, metav1.FinalizerOrphanDependents)
		}
	case policy == metav1.DeletePropagationForeground:
		if !has(metav1.FinalizerDeleteDependents) {
			out = append(out, metav1.FinalizerDeleteDependents)
		}
	}
	return out
}

// gracePeriod returns the grace period to use and whether deletion is graceful (a scheduled pod
// whose containers must be stopped by its node first).
func gracePeriod(obj runtime.Object, opts *metav1.DeleteOptions) (int64, bool) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return 0, false
	}
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if opts.GracePeriodSeconds != nil {
		grace = *opts.GracePeriodSeconds
	}
	if grace < 0 {
		grace = 0
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, false
	}
	if grace == 0 {
		return 0, false
	}
	return grace, true
}

func (s *Server) handleDeleteCollection(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	opts, err := s.deleteOptions(r)
	if err != nil {
		return err
	}
	pred, err := s.selectors(r, sv)
	if err != nil {
		return err
	}
	if err := s.waitConsistent(r.Context(), ""); err != nil {
		return err
	}
	var out []runtime.Object
	for _, it := range sv.cache.list(info.Namespace, pred) {
		m, _ := meta.Accessor(it)
		o, _, err := s.delete(r.Context(), sv, m.GetNamespace(), m.GetName(), opts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		out = append(out, o)
	}
	return s.writeList(w, r, sv, out, metav1.ListMeta{ResourceVersion: fmt.Sprint(s.caches.appliedRev())})
}
