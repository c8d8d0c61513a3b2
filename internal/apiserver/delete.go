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
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

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

// deleteOptions reads a delete's DeleteOptions as kube-apiserver does: from the body when there
// is one (of meta.k8s.io/v1 or any group's version), else from the query; then checks them with
// apimachinery's ValidateDeleteOptions.
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
	} else if err := s.decodeOptions(r.URL.Query(), opts); err != nil {
		return nil, err
	}
	if errs := metav1validation.ValidateDeleteOptions(opts); len(errs) > 0 {
		return nil, optionsInvalid("DeleteOptions", errs)
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
	// As upstream: 202 only when the object stays and the client asked for cascading deletion
	// with the legacy orphanDependents=false; a removed object of a kind that does not return
	// it is answered with a Success Status naming it.
	code := http.StatusOK
	if !deleted && opts.OrphanDependents != nil && !*opts.OrphanDependents {
		code = http.StatusAccepted
	}
	if deleted && !sv.res.ReturnDeleted {
		m := metaOf(out)
		s.writeJSON(w, code, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusSuccess, Details: &metav1.StatusDetails{
				Name: m.GetName(), Group: sv.res.GVR.Group, Kind: sv.res.GVR.Resource, UID: m.GetUID()}})
		return nil
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
		if err := s.checkDeletePreconditions(sv, cur, opts.Preconditions); err != nil {
			return nil, false, err
		}
		if res.AdmitDelete != nil {
			if err := res.AdmitDelete(cur); err != nil {
				return nil, false, err
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
				if err := s.catchUp(ctx); err != nil {
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

// checkDeletePreconditions checks a delete's uid and resourceVersion preconditions with the
// messages of upstream's rest.BeforeDelete, or as the kind's storage checks them.
func (s *Server) checkDeletePreconditions(sv *served, obj runtime.Object, p *metav1.Preconditions) error {
	if p == nil {
		return nil
	}
	if sv.res.CheckPreconditions != nil {
		return sv.res.CheckPreconditions(obj, p)
	}
	m := metaOf(obj)
	gr := schema.GroupResource{Group: sv.res.GVR.Group, Resource: sv.res.Kind}
	if p.UID != nil && *p.UID != m.GetUID() {
		return apierrors.NewConflict(gr, m.GetName(), fmt.Errorf("the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", *p.UID, m.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
		return apierrors.NewConflict(gr, m.GetName(), fmt.Errorf("the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified", *p.ResourceVersion, m.GetResourceVersion()))
	}
	return nil
}

// markDeletion records a delete on an object's metadata as upstream's rest.BeforeDelete does:
// the propagation's finalizer, and the deletionTimestamp at the end of the grace period (a
// graceful delete also bumps the generation). On an object already being deleted only a shorter
// grace period changes anything: the deadline moves earlier by the difference.
func markDeletion(om metav1.Object, opts *metav1.DeleteOptions, grace int64, graceful bool) {
	om.SetFinalizers(deletionFinalizers(om.GetFinalizers(), opts))
	at, cur := om.GetDeletionTimestamp(), om.GetDeletionGracePeriodSeconds()
	switch {
	case at == nil:
		deadline := metav1.NewTime(time.Now().Add(time.Duration(grace) * time.Second))
		om.SetDeletionTimestamp(&deadline)
		om.SetDeletionGracePeriodSeconds(&grace)
		if graceful && om.GetGeneration() > 0 {
			om.SetGeneration(om.GetGeneration() + 1)
		}
	case graceful && cur != nil && grace < *cur:
		deadline := metav1.NewTime(at.Add(time.Duration(grace-*cur) * time.Second))
		om.SetDeletionTimestamp(&deadline)
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
