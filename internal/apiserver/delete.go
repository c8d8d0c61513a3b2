package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-dev/skiff/internal/storage"
)

var errConflictRetry = errors.New("apiserver: conflict, retry")

// deletable reports whether obj is marked for deletion with no grace period left and nothing
// holds it any more: no finalizers, and nothing its kind keeps it for.
func (s *Server) deletable(sv *served, m metav1.Object, obj runtime.Object) bool {
	if m.GetDeletionTimestamp() == nil || len(m.GetFinalizers()) > 0 {
		return false
	}
	if sv.res.HoldsDeletion != nil && sv.res.HoldsDeletion(obj) {
		return false
	}
	g := m.GetDeletionGracePeriodSeconds()
	return g == nil || *g == 0
}

// deleteNow removes the object from storage if its revision is still rev.
func (s *Server) deleteNow(ctx context.Context, sv *served, namespace, name string, rev int64) (runtime.Object, error) {
	prev, deletedAt, err := s.cfg.Store.Delete(ctx, sv.cache.key(namespace, name), rev)
	if errors.Is(err, storage.ErrConflict) {
		return nil, errConflictRetry
	}
	if err != nil {
		return nil, storageError(err, sv.cache.gr, name)
	}
	s.noteWrite(deletedAt)
	obj, err := s.decodeStored(prev.Value, sv.res.GVR.GroupVersion().WithKind(sv.res.Kind))
	if err != nil {
		return nil, err
	}
	setRV(obj, deletedAt)
	return obj, nil
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

// delete deletes one object as kube-apiserver does: preconditions, then either at once or, when
// finalizers, propagation or the kind's delete strategy (a graceful pod, a namespace's spec
// finalizers) ask for it, by marking it with a deletionTimestamp. It returns the object and
// whether it is gone from storage.
func (s *Server) delete(ctx context.Context, sv *served, namespace, name string, opts *metav1.DeleteOptions) (runtime.Object, bool, error) {
	res := sv.res
	dryRun := len(opts.DryRun) > 0
	for attempt := 0; attempt < maxUpdateAttempts; attempt++ {
		cur, err := s.getCurrent(ctx, sv, namespace, name)
		if err != nil {
			return nil, false, err
		}
		m := metaOf(cur)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != m.GetUID() {
				return nil, false, apierrors.NewConflict(sv.cache.gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
				return nil, false, apierrors.NewConflict(sv.cache.gr, name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion()))
			}
		}
		finalizers := deletionFinalizers(m.GetFinalizers(), opts)
		var grace int64
		graceful := false
		if res.GracePeriod != nil {
			grace, graceful = res.GracePeriod(cur, opts)
		}
		held := res.HoldsDeletion != nil && res.HoldsDeletion(cur)
		if len(finalizers) == 0 && !graceful && !held {
			if dryRun {
				return cur, true, nil
			}
			obj, err := s.deleteNow(ctx, sv, namespace, name, rvOf(cur))
			if errors.Is(err, errConflictRetry) {
				if err := s.waitConsistent(ctx, ""); err != nil {
					return nil, false, err
				}
				continue
			}
			return obj, err == nil, err
		}
		out, err := s.guaranteedUpdate(ctx, sv, namespace, name, updateOpts{mode: modeRaw, dryRun: dryRun, retry: true}, func(obj runtime.Object) (runtime.Object, error) {
			markDeletion(metaOf(obj), opts, grace, graceful)
			if res.MarkDeleting != nil {
				res.MarkDeleting(obj)
			}
			return obj, nil
		})
		if err != nil {
			return nil, false, err
		}
		if _, exists := sv.cache.get(namespace, name); !exists && !dryRun {
			return out, true, nil
		}
		return out, metaOf(out).GetDeletionTimestamp() == nil, nil
	}
	return nil, false, apierrors.NewConflict(sv.cache.gr, name, errors.New(optimisticLockMsg))
}

// markDeletion records a delete on an object's metadata: the propagation's finalizer, and the
// deletionTimestamp at the end of the grace period. A shorter grace period may replace a longer
// one on an object already being deleted.
func markDeletion(om metav1.Object, opts *metav1.DeleteOptions, grace int64, graceful bool) {
	om.SetFinalizers(deletionFinalizers(om.GetFinalizers(), opts))
	mark := om.GetDeletionTimestamp() == nil
	if cur := om.GetDeletionGracePeriodSeconds(); !mark && graceful && cur != nil && grace < *cur {
		mark = true
	}
	if mark {
		at := metav1.NewTime(time.Now().Add(time.Duration(grace) * time.Second))
		om.SetDeletionTimestamp(&at)
		om.SetDeletionGracePeriodSeconds(&grace)
	}
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
	return s.writeList(w, r, sv, out, metav1.ListMeta{ResourceVersion: strconv.FormatInt(s.caches.appliedRev(), 10)})
}
