package apiserver

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-dev/skiff/internal/registry"
	"github.com/skiff-dev/skiff/internal/storage"
)

// historySize is how many events per resource the watch cache keeps for watches that resume
// from a resourceVersion; older resumes get 410 Gone and relist.
const historySize = 16384

// watcherBuffer is how many events a watcher may fall behind before it is dropped.
const watcherBuffer = 4096

// cacheEvent is one change to one object, at a global revision.
type cacheEvent struct {
	typ  watch.EventType // Added, Modified, Deleted (Bookmark only on the way out)
	obj  runtime.Object  // new object (for Deleted: the last state, with the delete's resourceVersion)
	prev runtime.Object  // previous object, nil for Added
	rev  int64
	raw  []byte // obj's stored encoding (without resourceVersion); nil for Deleted
	// enc holds the event as watchers encoded it, shared by every watcher that asks for the
	// same encoding.
	enc *encodings
}

// resourceCache holds every object of one resource, decoded, and fans its changes out to watchers.
type resourceCache struct {
	res    *registry.Resource
	gr     schema.GroupResource
	gvk    schema.GroupVersionKind
	prefix string // "/registry/<group-resource>/"

	mu   sync.RWMutex // guards the fields below
	objs map[string]runtime.Object
	// raw holds the stored encoding of each object in objs. An update compares its new
	// encoding with it to skip writing a change that changes nothing, as the etcd3 store
	// compares with the data it read.
	raw      map[string][]byte
	history  []cacheEvent // ring buffer of the last historySize events
	head     int          // index of the oldest event in history when full
	full     bool
	oldest   int64 // events with rev <= oldest may be missing from history
	watchers map[*cacheWatcher]struct{}
}

func newResourceCache(res *registry.Resource) *resourceCache {
	gr := res.GVR.GroupResource()
	return &resourceCache{
		res:      res,
		gr:       gr,
		gvk:      res.GVR.GroupVersion().WithKind(res.Kind),
		prefix:   "/registry/" + gr.String() + "/",
		objs:     map[string]runtime.Object{},
		raw:      map[string][]byte{},
		history:  make([]cacheEvent, 0, 64),
		watchers: map[*cacheWatcher]struct{}{},
	}
}

// key returns the storage key of namespace/name.
func (c *resourceCache) key(namespace, name string) string {
	if c.res.Namespaced {
		return c.prefix + namespace + "/" + name
	}
	return c.prefix + name
}

// objKey is the cache map key of an object's storage key.
func (c *resourceCache) objKey(storageKey string) string {
	return strings.TrimPrefix(storageKey, c.prefix)
}

func (c *resourceCache) get(namespace, name string) (runtime.Object, bool) {
	o, _, ok := c.getStored(namespace, name)
	return o, ok
}

// getStored returns the cached object namespace/name and its stored encoding.
func (c *resourceCache) getStored(namespace, name string) (runtime.Object, []byte, bool) {
	k := name
	if c.res.Namespaced {
		k = namespace + "/" + name
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	o, ok := c.objs[k]
	return o, c.raw[k], ok
}

// list returns the objects in namespace ("" = all), sorted by key, that match pred.
func (c *resourceCache) list(namespace string, pred func(runtime.Object) bool) []runtime.Object {
	c.mu.RLock()
	keys := make([]string, 0, len(c.objs))
	prefix := ""
	if c.res.Namespaced && namespace != "" {
		prefix = namespace + "/"
	}
	for k := range c.objs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]runtime.Object, 0, len(keys))
	for _, k := range keys {
		o := c.objs[k]
		if pred == nil || pred(o) {
			out = append(out, o)
		}
	}
	c.mu.RUnlock()
	return out
}

// apply records one event into the cache and sends it to watchers. Objects are never mutated
// after they enter the cache.
func (c *resourceCache) apply(ev cacheEvent, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.objKey(key)
	if ev.typ == watch.Deleted {
		delete(c.objs, k)
		delete(c.raw, k)
	} else {
		c.objs[k] = ev.obj
		c.raw[k] = ev.raw
	}
	if len(c.history) < historySize {
		c.history = append(c.history, ev)
	} else {
		c.oldest = c.history[c.head].rev
		c.history[c.head] = ev
		c.head = (c.head + 1) % historySize
		c.full = true
	}
	for w := range c.watchers {
		if !w.send(ev) {
			delete(c.watchers, w)
		}
	}
}

// since returns the events after rev, oldest first, or false when rev is older than history.
func (c *resourceCache) sinceLocked(rev int64) ([]cacheEvent, bool) {
	if rev < c.oldest {
		return nil, false
	}
	n := len(c.history)
	out := make([]cacheEvent, 0)
	for i := 0; i < n; i++ {
		ev := c.history[(c.head+i)%n]
		if ev.rev > rev {
			out = append(out, ev)
		}
	}
	return out, true
}

// cacheWatcher is one client watch on one resource.
type cacheWatcher struct {
	ch     chan cacheEvent
	done   chan struct{}
	once   sync.Once
	closed bool
}

// send queues ev without blocking; a watcher that is full is closed and false returned.
func (w *cacheWatcher) send(ev cacheEvent) bool {
	select {
	case w.ch <- ev:
		return true
	case <-w.done:
		return false
	default:
		w.stop()
		return false
	}
}

func (w *cacheWatcher) stop() { w.once.Do(func() { close(w.done) }) }

// watch registers a watcher that gets every event after rev. initial, when not nil, is called
// under the cache lock with the current objects so a caller can send synthetic ADDED events
// atomically with registration.
func (c *resourceCache) watch(rev int64, initial func([]runtime.Object)) (*cacheWatcher, []cacheEvent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var backlog []cacheEvent
	if initial != nil {
		keys := make([]string, 0, len(c.objs))
		for k := range c.objs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		objs := make([]runtime.Object, len(keys))
		for i, k := range keys {
			objs[i] = c.objs[k]
		}
		initial(objs)
	} else {
		evs, ok := c.sinceLocked(rev)
		if !ok {
			return nil, nil, errTooOld{rev: rev, oldest: c.oldest}
		}
		backlog = evs
	}
	w := &cacheWatcher{ch: make(chan cacheEvent, watcherBuffer), done: make(chan struct{})}
	c.watchers[w] = struct{}{}
	return w, backlog, nil
}

func (c *resourceCache) unwatch(w *cacheWatcher) {
	c.mu.Lock()
	delete(c.watchers, w)
	c.mu.Unlock()
	w.stop()
}

type errTooOld struct{ rev, oldest int64 }

func (e errTooOld) Error() string {
	return fmt.Sprintf("too old resource version: %d (%d)", e.rev, e.oldest)
}

// cacheSet is the watch cache for every resource, fed by one storage watch.
type cacheSet struct {
	store  storage.Store
	decode func(data []byte, gvk schema.GroupVersionKind) (runtime.Object, error)
	byGR   map[string]*resourceCache // key: group-resource string

	mu      sync.Mutex // guards applied and notify
	applied int64
	notify  chan struct{}
}

func (cs *cacheSet) cacheForKey(key string) *resourceCache {
	rest := strings.TrimPrefix(key, "/registry/")
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return nil
	}
	return cs.byGR[rest[:i]]
}

// load lists storage into the caches and returns the revision it is at.
func (cs *cacheSet) load(ctx context.Context) (int64, error) {
	kvs, rev, err := cs.store.List(ctx, "/registry/")
	if err != nil {
		return 0, fmt.Errorf("apiserver: load cache: %w", err)
	}
	for _, kv := range kvs {
		c := cs.cacheForKey(kv.Key)
		if c == nil {
			continue
		}
		obj, err := cs.decodeKV(c, kv)
		if err != nil {
			return 0, err
		}
		c.objs[c.objKey(kv.Key)] = obj
		c.raw[c.objKey(kv.Key)] = kv.Value
	}
	for _, c := range cs.byGR {
		c.oldest = rev
	}
	cs.setApplied(rev)
	return rev, nil
}

func (cs *cacheSet) decodeKV(c *resourceCache, kv storage.KeyValue) (runtime.Object, error) {
	obj, err := cs.decode(kv.Value, c.gvk)
	if err != nil {
		return nil, fmt.Errorf("apiserver: decode %s: %w", kv.Key, err)
	}
	setRV(obj, kv.ModRevision)
	return obj, nil
}

func setRV(obj runtime.Object, rev int64) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(fmt.Sprint(rev))
	}
}

// watchFrom opens the storage watch the cache follows. Start calls it before any write so that,
// on an empty store (where revision 0 means "from now"), no event can slip between load and watch.
func (cs *cacheSet) watchFrom(ctx context.Context, rev int64) (<-chan storage.Event, error) {
	return cs.store.Watch(ctx, "/registry/", rev)
}

// run applies ch's events until it closes, then re-lists and watches again, until ctx is done.
func (cs *cacheSet) run(ctx context.Context, ch <-chan storage.Event, rev int64, log interface {
	Error(string, ...any)
}) {
	for ctx.Err() == nil {
		for ev := range ch {
			cs.applyStorageEvent(ev, log)
			rev = ev.KV.ModRevision
		}
		if ctx.Err() != nil {
			return
		}
		var err error
		ch, err = cs.watchFrom(ctx, rev)
		if err != nil {
			log.Error("watch cache: storage watch failed, re-listing", "err", err)
			rev = cs.relist(ctx, log)
			if ch, err = cs.watchFrom(ctx, rev); err != nil {
				ch = closedEvents()
			}
		}
	}
}

func closedEvents() <-chan storage.Event {
	ch := make(chan storage.Event)
	close(ch)
	return ch
}

func (cs *cacheSet) applyStorageEvent(ev storage.Event, log interface{ Error(string, ...any) }) {
	rev := ev.KV.ModRevision
	c := cs.cacheForKey(ev.KV.Key)
	if c != nil {
		c.mu.RLock()
		prev := c.objs[c.objKey(ev.KV.Key)]
		c.mu.RUnlock()
		var ce cacheEvent
		switch ev.Type {
		case storage.EventPut:
			obj, err := cs.decodeKV(c, ev.KV)
			if err != nil {
				log.Error("watch cache: dropping undecodable object", "key", ev.KV.Key, "err", err)
				break
			}
			ce = cacheEvent{typ: watch.Modified, obj: obj, prev: prev, rev: rev, raw: ev.KV.Value}
			if prev == nil {
				ce.typ = watch.Added
			}
		case storage.EventDelete:
			if prev == nil {
				break
			}
			last := prev.DeepCopyObject()
			setRV(last, rev)
			ce = cacheEvent{typ: watch.Deleted, obj: last, prev: prev, rev: rev}
		}
		if ce.obj != nil {
			ce.enc = &encodings{}
			c.apply(ce, ev.KV.Key)
		}
	}
	cs.setApplied(rev)
}

// relist reloads every cache from storage after a broken watch, emitting the differences as events.
func (cs *cacheSet) relist(ctx context.Context, log interface{ Error(string, ...any) }) int64 {
	for ctx.Err() == nil {
		kvs, rev, err := cs.store.List(ctx, "/registry/")
		if err != nil {
			log.Error("watch cache: relist failed", "err", err)
			select {
			case <-ctx.Done():
			case <-timeAfter(1):
			}
			continue
		}
		seen := map[string]bool{}
		for _, kv := range kvs {
			c := cs.cacheForKey(kv.Key)
			if c == nil {
				continue
			}
			seen[kv.Key] = true
			c.mu.RLock()
			prev := c.objs[c.objKey(kv.Key)]
			c.mu.RUnlock()
			if prev != nil && rvOf(prev) == kv.ModRevision {
				continue
			}
			cs.applyStorageEvent(storage.Event{Type: storage.EventPut, KV: kv}, log)
		}
		for _, c := range cs.byGR {
			c.mu.RLock()
			var gone []string
			for k := range c.objs {
				if !seen[c.prefix+k] {
					gone = append(gone, c.prefix+k)
				}
			}
			c.mu.RUnlock()
			for _, key := range gone {
				cs.applyStorageEvent(storage.Event{Type: storage.EventDelete, KV: storage.KeyValue{Key: key, ModRevision: rev}}, log)
			}
		}
		cs.setApplied(rev)
		return rev
	}
	return 0
}

func (cs *cacheSet) setApplied(rev int64) {
	cs.mu.Lock()
	if rev > cs.applied {
		cs.applied = rev
		if cs.notify != nil {
			close(cs.notify)
			cs.notify = nil
		}
	}
	cs.mu.Unlock()
}

func (cs *cacheSet) appliedRev() int64 {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.applied
}

// waitFor blocks until the cache has applied rev or ctx ends.
func (cs *cacheSet) waitFor(ctx context.Context, rev int64) error {
	for {
		cs.mu.Lock()
		if cs.applied >= rev {
			cs.mu.Unlock()
			return nil
		}
		if cs.notify == nil {
			cs.notify = make(chan struct{})
		}
		ch := cs.notify
		cs.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
