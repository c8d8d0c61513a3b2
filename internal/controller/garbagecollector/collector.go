package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-dev/skiff/internal/controller"
)

// Index names added to each informer; prefixed so they do not clash with
// indexers other components add to the same shared informers.
const (
	uidIndex   = "skiff-gc-uid"
	ownerIndex = "skiff-gc-owner-uid"
)

// Options tunes the collector.
type Options struct {
	// RecheckInterval is how often an owner in foreground deletion that is
	// still blocked is looked at again, besides on its dependents' events.
	// Default 30s.
	RecheckInterval time.Duration
}

// GarbageCollector deletes dependents of deleted owners.
type GarbageCollector struct {
	client    metadata.Interface
	mapper    meta.RESTMapper
	log       *slog.Logger
	opts      Options
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer

	// dependents holds UIDs of objects whose owners may be gone or deleting;
	// owners holds UIDs of objects that were deleted, or are being deleted
	// with a foreground or orphan finalizer.
	dependents *controller.Loop[types.UID]
	owners     *controller.Loop[types.UID]

	mu     sync.Mutex // guards absent
	absent map[types.UID]struct{}
}

const maxAbsent = 10000

// New returns a collector over resources, each watched through factory's
// metadata informers; mapper resolves owner references (apiVersion, kind)
// to resources for live lookups. Start factory after New, then Run.
func New(client metadata.Interface, factory metadatainformer.SharedInformerFactory, mapper meta.RESTMapper,
	resources []schema.GroupVersionResource, log *slog.Logger, opts Options) (*GarbageCollector, error) {
	if opts.RecheckInterval <= 0 {
		opts.RecheckInterval = 30 * time.Second
	}
	gc := &GarbageCollector{
		client:    client,
		mapper:    mapper,
		log:       log.With("component", "garbage-collector"),
		opts:      opts,
		informers: map[schema.GroupVersionResource]cache.SharedIndexInformer{},
		absent:    map[types.UID]struct{}{},
	}
	// Retried for as long as they fail, as upstream's attemptToDelete and attemptToOrphan
	// queues are. Unlike upstream (the default controller rate limiter) the back-off is per
	// object only, 5ms to 30s: a burst of conflicts must not be throttled by an overall rate
	// limit. Conflicts are routine, the cache was behind a write, and are logged at Debug.
	loop := func(name string, sync func(context.Context, types.UID) error) *controller.Loop[types.UID] {
		return controller.New(controller.Config[types.UID]{
			Name:        name,
			Log:         gc.log,
			Sync:        sync,
			RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[types.UID](5*time.Millisecond, 30*time.Second),
			LogLevel: func(err error) slog.Level {
				if apierrors.IsConflict(err) {
					return slog.LevelDebug
				}
				return slog.LevelWarn
			},
		})
	}
	gc.dependents = loop("gc-dependents", gc.syncDependent)
	gc.owners = loop("gc-owners", gc.syncOwner)
	for _, gvr := range resources {
		inf := factory.ForResource(gvr).Informer()
		if err := inf.AddIndexers(cache.Indexers{uidIndex: indexByUID, ownerIndex: indexByOwner}); err != nil {
			return nil, fmt.Errorf("garbage collector: index %s: %w", gvr, err)
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { gc.onChange(nil, obj) },
			UpdateFunc: gc.onChange,
			DeleteFunc: gc.onDelete,
		}); err != nil {
			return nil, fmt.Errorf("garbage collector: watch %s: %w", gvr, err)
		}
		gc.informers[gvr] = inf
	}
	return gc, nil
}

func indexByUID(obj any) ([]string, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	return []string{string(m.GetUID())}, nil
}

func indexByOwner(obj any) ([]string, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	refs := m.GetOwnerReferences()
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = string(r.UID)
	}
	return out, nil
}

// onChange queues an object whose references changed, and an object whose
// deletion waits on the collector.
func (gc *GarbageCollector) onChange(old, obj any) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	var before metav1.Object
	if old != nil {
		before, _ = meta.Accessor(old)
	}
	if len(m.GetOwnerReferences()) > 0 &&
		(before == nil || !refsEqual(before.GetOwnerReferences(), m.GetOwnerReferences())) {
		gc.dependents.Add(m.GetUID())
		if before != nil {
			// A reference dropped or unblocked may release a waiting owner.
			for _, r := range before.GetOwnerReferences() {
				gc.owners.Add(r.UID)
			}
		}
	}
	if m.GetDeletionTimestamp() != nil && hasGCFinalizer(m) {
		gc.owners.Add(m.GetUID())
	}
}

// onDelete queues the deleted object as a gone owner, and its own owners,
// one of which may be waiting for it.
func (gc *GarbageCollector) onDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	gc.owners.Add(m.GetUID())
	for _, r := range m.GetOwnerReferences() {
		gc.owners.Add(r.UID)
	}
}

func refsEqual(a, b []metav1.OwnerReference) bool {
	return slices.EqualFunc(a, b, func(x, y metav1.OwnerReference) bool {
		return x.UID == y.UID && ptrEq(x.BlockOwnerDeletion, y.BlockOwnerDeletion)
	})
}

func ptrEq(a, b *bool) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func hasGCFinalizer(m metav1.Object) bool {
	f := m.GetFinalizers()
	return slices.Contains(f, metav1.FinalizerOrphanDependents) || slices.Contains(f, metav1.FinalizerDeleteDependents)
}

// Run collects with workers workers per queue until ctx is done.
func (gc *GarbageCollector) Run(ctx context.Context, workers int) error {
	synced := make([]cache.InformerSynced, 0, len(gc.informers))
	for _, inf := range gc.informers {
		synced = append(synced, inf.HasSynced)
	}
	// Waited for once, so that both queues start together.
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("garbage collector: waiting for caches to sync: %w", ctx.Err())
	}
	gc.log.Info("collecting", "resources", len(gc.informers))
	var wg sync.WaitGroup
	for _, l := range []*controller.Loop[types.UID]{gc.dependents, gc.owners} {
		wg.Go(func() { _ = l.Run(ctx, workers) }) // with no caches to wait for, Run returns nil
	}
	wg.Wait()
	return nil
}

// cached is one object from the informers, with the resource it belongs to.
type cached struct {
	gvr schema.GroupVersionResource
	obj *metav1.PartialObjectMetadata
}

// lookup finds the object with uid in any informer.
func (gc *GarbageCollector) lookup(uid types.UID) (cached, bool) {
	for gvr, inf := range gc.informers {
		items, _ := inf.GetIndexer().ByIndex(uidIndex, string(uid))
		for _, it := range items {
			if m, ok := it.(*metav1.PartialObjectMetadata); ok {
				return cached{gvr: gvr, obj: m}, true
			}
		}
	}
	return cached{}, false
}

// dependentsOf lists the cached objects with a reference to uid.
func (gc *GarbageCollector) dependentsOf(uid types.UID) []cached {
	var out []cached
	for gvr, inf := range gc.informers {
		items, _ := inf.GetIndexer().ByIndex(ownerIndex, string(uid))
		for _, it := range items {
			if m, ok := it.(*metav1.PartialObjectMetadata); ok {
				out = append(out, cached{gvr: gvr, obj: m})
			}
		}
	}
	return out
}

// syncOwner handles an owner: gone (queue its dependents), or being deleted
// with the orphan or foreground finalizer.
func (gc *GarbageCollector) syncOwner(ctx context.Context, uid types.UID) error {
	owner, ok := gc.lookup(uid)
	if ok && owner.obj.DeletionTimestamp == nil {
		return nil // a live owner's dependents need nothing: don't list them on every change
	}
	deps := gc.dependentsOf(uid)
	if !ok {
		for _, d := range deps {
			gc.dependents.Add(d.obj.UID)
		}
		return nil
	}
	o := owner.obj
	switch {
	case slices.Contains(o.Finalizers, metav1.FinalizerOrphanDependents):
		for _, d := range deps {
			if err := gc.patchOwnerRefs(ctx, d, withoutOwners(d.obj.OwnerReferences, uid)); err != nil {
				return err
			}
		}
		return gc.removeFinalizer(ctx, owner, metav1.FinalizerOrphanDependents)

	case slices.Contains(o.Finalizers, metav1.FinalizerDeleteDependents):
		refs := make([][]metav1.OwnerReference, len(deps))
		for i, d := range deps {
			refs[i] = d.obj.OwnerReferences
			gc.dependents.Add(d.obj.UID)
		}
		if ownerBlocked(uid, refs) {
			gc.owners.AddAfter(uid, gc.opts.RecheckInterval)
			return nil
		}
		return gc.removeFinalizer(ctx, owner, metav1.FinalizerDeleteDependents)
	}
	return nil
}

// syncDependent applies planDependent to one object.
func (gc *GarbageCollector) syncDependent(ctx context.Context, uid types.UID) error {
	dep, ok := gc.lookup(uid)
	if !ok {
		return nil
	}
	d := dep.obj
	if d.DeletionTimestamp != nil {
		if slices.Contains(d.Finalizers, metav1.FinalizerDeleteDependents) {
			gc.owners.Add(uid) // deleting its own dependents first
		}
		return nil
	}
	if len(d.OwnerReferences) == 0 {
		return nil
	}
	states := make(map[types.UID]ownerState, len(d.OwnerReferences))
	for _, ref := range d.OwnerReferences {
		s, err := gc.ownerState(ctx, d, ref)
		if err != nil {
			return err
		}
		states[ref.UID] = s
	}
	plan := planDependent(d.OwnerReferences, states, d.Finalizers, len(gc.dependentsOf(uid)) > 0)
	switch plan.kind {
	case removeReferences:
		return gc.patchOwnerRefs(ctx, dep, withoutOwners(d.OwnerReferences, plan.remove...))
	case deleteObject:
		gc.log.Debug("deleting dependent", "resource", dep.gvr.Resource, "namespace", d.Namespace, "name", d.Name, "policy", plan.policy)
		return gc.deleteDependent(ctx, dep, plan.policy)
	}
	return nil
}

// deleteDependent deletes d guarded by its uid and resourceVersion. If the
// version moved on but the ownerReferences did not (a status write, say), it
// deletes again guarded by uid alone, as upstream does; if the references
// changed, the conflict sends d back through planning.
func (gc *GarbageCollector) deleteDependent(ctx context.Context, dep cached, policy metav1.DeletionPropagation) error {
	d := dep.obj
	client := gc.resource(dep.gvr, d.Namespace)
	opts := metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &d.UID, ResourceVersion: &d.ResourceVersion},
	}
	err := client.Delete(ctx, d.Name, opts)
	if apierrors.IsConflict(err) {
		live, getErr := client.Get(ctx, d.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(getErr) || (getErr == nil && live.UID != d.UID):
			return nil
		case getErr != nil:
			return fmt.Errorf("get %s %s/%s: %w", dep.gvr.Resource, d.Namespace, d.Name, getErr)
		case !refsEqual(live.OwnerReferences, d.OwnerReferences):
			return err
		}
		opts.Preconditions.ResourceVersion = nil
		err = client.Delete(ctx, d.Name, opts)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s %s/%s: %w", dep.gvr.Resource, d.Namespace, d.Name, err)
	}
	return nil
}

// ownerState classifies one owner reference of dependent d. An owner missing
// from the caches is confirmed with a live read before it counts as dangling,
// since the owner's informer may simply lag behind the dependent's.
func (gc *GarbageCollector) ownerState(ctx context.Context, d *metav1.PartialObjectMetadata, ref metav1.OwnerReference) (ownerState, error) {
	if o, ok := gc.lookup(ref.UID); ok && (o.obj.Namespace == "" || o.obj.Namespace == d.Namespace) {
		if o.obj.DeletionTimestamp != nil && slices.Contains(o.obj.Finalizers, metav1.FinalizerDeleteDependents) {
			return waiting, nil
		}
		return solid, nil
	}
	gc.mu.Lock()
	_, gone := gc.absent[ref.UID]
	gc.mu.Unlock()
	if gone {
		return dangling, nil
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return dangling, nil // an unparseable reference can never resolve
	}
	mapping, err := gc.mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: ref.Kind}, gv.Version)
	if err != nil {
		return solid, fmt.Errorf("resolve owner %s %s: %w", ref.APIVersion, ref.Kind, err)
	}
	ns := ""
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns = d.Namespace
	}
	live, err := gc.resource(mapping.Resource, ns).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || (err == nil && live.UID != ref.UID):
		gc.markAbsent(ref.UID)
		return dangling, nil
	case err != nil:
		return solid, fmt.Errorf("get owner %s %s/%s: %w", mapping.Resource.Resource, ns, ref.Name, err)
	case live.DeletionTimestamp != nil && slices.Contains(live.Finalizers, metav1.FinalizerDeleteDependents):
		return waiting, nil
	}
	return solid, nil
}

func (gc *GarbageCollector) markAbsent(uid types.UID) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if len(gc.absent) >= maxAbsent {
		clear(gc.absent) // UIDs never come back, so forgetting only costs lookups
	}
	gc.absent[uid] = struct{}{}
}

func (gc *GarbageCollector) resource(gvr schema.GroupVersionResource, ns string) metadata.ResourceInterface {
	if ns == "" {
		return gc.client.Resource(gvr)
	}
	return gc.client.Resource(gvr).Namespace(ns)
}

// patchOwnerRefs sets the object's ownerReferences to refs with a merge
// patch guarded by its uid and resourceVersion.
func (gc *GarbageCollector) patchOwnerRefs(ctx context.Context, c cached, refs []metav1.OwnerReference) error {
	var value any = refs
	if len(refs) == 0 {
		value = nil
	}
	return gc.patchMeta(ctx, c, "ownerReferences", value)
}

// removeFinalizer drops finalizer from the object; once none is left the API
// server completes its deletion.
func (gc *GarbageCollector) removeFinalizer(ctx context.Context, c cached, finalizer string) error {
	rest := slices.DeleteFunc(slices.Clone(c.obj.Finalizers), func(f string) bool { return f == finalizer })
	var value any = rest
	if len(rest) == 0 {
		value = nil
	}
	return gc.patchMeta(ctx, c, "finalizers", value)
}

func (gc *GarbageCollector) patchMeta(ctx context.Context, c cached, field string, value any) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		field: value, "uid": c.obj.UID, "resourceVersion": c.obj.ResourceVersion,
	}})
	if err != nil {
		return err
	}
	_, err = gc.resource(c.gvr, c.obj.Namespace).Patch(ctx, c.obj.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patch %s of %s %s/%s: %w", field, c.gvr.Resource, c.obj.Namespace, c.obj.Name, err)
	}
	return nil
}
