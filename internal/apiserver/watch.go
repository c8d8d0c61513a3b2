package apiserver

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// bookmarkInterval is how often a watch that allows bookmarks gets one while idle.
const bookmarkInterval = 30 * time.Second

// handleWatch streams changes of one resource as WatchEvents, in JSON or protobuf, optionally
// as Tables or PartialObjectMetadata. resourceVersion "" or "0" (or sendInitialEvents=true)
// starts with a synthetic ADDED event per current object; a later resourceVersion resumes from
// the watch cache's history, or answers 410 Gone when that is no longer held.
func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	q := r.URL.Query()
	if err := checkReadParams(q); err != nil {
		return err
	}
	pred, err := s.selectors(r, sv)
	if err != nil {
		return err
	}
	if info.Name != "" {
		name, inner := info.Name, pred
		pred = func(o runtime.Object) bool {
			m, _ := meta.Accessor(o)
			return m.GetName() == name && (inner == nil || inner(o))
		}
	}
	match := func(o runtime.Object) bool {
		if info.Namespace != "" {
			if m, _ := meta.Accessor(o); m.GetNamespace() != info.Namespace {
				return false
			}
		}
		return pred == nil || pred(o)
	}
	choice, ok := s.negotiate(r, true)
	if !ok {
		return notAcceptable(r.Header.Get("Accept"))
	}
	stream := choice.info.StreamSerializer
	if stream == nil {
		return notAcceptable(r.Header.Get("Accept"))
	}
	rv := q.Get("resourceVersion")
	sendInitial := rv == "" || rv == "0"
	initialEnd := boolParam(q, "sendInitialEvents")
	if initialEnd {
		sendInitial = true
	} else if q.Get("sendInitialEvents") != "" && rv != "" {
		sendInitial = false
	}
	bookmarks := boolParam(q, "allowWatchBookmarks")
	var fromRev int64
	if !sendInitial || (rv != "" && rv != "0") {
		n, err := strconv.ParseInt(rv, 10, 64)
		if err != nil && rv != "" {
			return badRequest("invalid resource version: %q", rv)
		}
		fromRev = n
		if err := s.waitConsistent(r.Context(), rv); err != nil {
			return err
		}
	}
	timeout := 30*time.Minute + time.Duration(rand.Int64N(int64(30*time.Minute)))
	if t := q.Get("timeoutSeconds"); t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n < 0 {
			return badRequest("invalid timeoutSeconds %q", t)
		}
		timeout = time.Duration(n) * time.Second
	}

	var initial []runtime.Object
	var initialRev int64
	var watcher *cacheWatcher
	var backlog []cacheEvent
	if sendInitial {
		watcher, _, err = sv.cache.watch(0, func(objs []runtime.Object) {
			initialRev = s.caches.appliedRev()
			for _, o := range objs {
				if match(o) {
					initial = append(initial, o)
				}
				if r := rvOf(o); r > initialRev {
					initialRev = r
				}
			}
		})
		fromRev = initialRev
	} else {
		watcher, backlog, err = sv.cache.watch(fromRev, nil)
	}
	if err != nil {
		if _, ok := err.(errTooOld); !ok {
			return err
		}
	}
	w.Header().Set("Content-Type", choice.mediaType+streamSuffix(choice))
	w.WriteHeader(http.StatusOK)
	frames := stream.Framer.NewFrameWriter(w)
	if tooOld, ok := err.(errTooOld); ok {
		// as kube-apiserver's watch cache: the stream opens, then one ERROR event says 410 Gone
		st := apierrors.NewResourceExpired(tooOld.Error()).ErrStatus
		st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
		var b bytes.Buffer
		if choice.info.Serializer.Encode(&st, &b) == nil {
			_ = stream.Serializer.Encode(&metav1.WatchEvent{Type: string(watch.Error), Object: runtime.RawExtension{Raw: b.Bytes()}}, frames)
		}
		return nil
	}
	defer sv.cache.unwatch(watcher)
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	sentColumns := false
	var buf bytes.Buffer
	// encodeEvent returns the WatchEvent of typ for obj, encoded as this watcher asked.
	encodeEvent := func(typ watch.EventType, obj runtime.Object) ([]byte, error) {
		var out runtime.Object
		if typ == watch.Bookmark {
			out = bookmarkAs(choice, obj)
		} else {
			var err error
			c := choice
			if c.output == outputTable {
				t := s.toTable(r, sv, []runtime.Object{obj}, metav1.ListMeta{ResourceVersion: strconv.FormatInt(rvOf(obj), 10)}, c.tableGV)
				if sentColumns {
					t.ColumnDefinitions = nil
				}
				sentColumns = true
				out = t
			} else if out, err = s.outputObject(r, sv, obj, c); err != nil {
				return nil, err
			}
		}
		buf.Reset()
		if err := choice.info.Serializer.Encode(out, &buf); err != nil {
			return nil, err
		}
		var frame bytes.Buffer
		ev := &metav1.WatchEvent{Type: string(typ), Object: runtime.RawExtension{Raw: buf.Bytes()}}
		if err := stream.Serializer.Encode(ev, &frame); err != nil {
			return nil, err
		}
		return frame.Bytes(), nil
	}
	// send writes one event as one frame. With shared set, the encoding is taken from, or
	// left in, shared for the other watchers of the same event; Tables are not shared, as
	// only a watcher's first one carries the column definitions.
	send := func(typ watch.EventType, obj runtime.Object, shared *encodings) error {
		var data []byte
		var err error
		if shared != nil && choice.output != outputTable {
			key := encodingKey{typ: typ, mediaType: choice.info.MediaType, gv: sv.gv, output: choice.output, metaGV: choice.metaGV}
			data, err = shared.get(key, func() ([]byte, error) { return encodeEvent(typ, obj) })
		} else {
			data, err = encodeEvent(typ, obj)
		}
		if err != nil {
			return err
		}
		_, err = frames.Write(data)
		return err
	}
	for _, o := range initial {
		if err := send(watch.Added, o, nil); err != nil {
			return nil
		}
	}
	if initialEnd && bookmarks {
		if err := send(watch.Bookmark, s.bookmarkObject(sv, initialRev, true), nil); err != nil {
			return nil
		}
	}
	lastSent := fromRev
	deliver := func(ev cacheEvent) error {
		if ev.rev <= lastSent {
			return nil
		}
		typ, obj, ok := filterEvent(ev, match)
		lastSent = ev.rev
		if !ok {
			return nil
		}
		return send(typ, obj, ev.enc)
	}
	for _, ev := range backlog {
		if deliver(ev) != nil {
			return nil
		}
	}
	flush()

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	ticker := time.NewTicker(bookmarkInterval)
	defer ticker.Stop()
	for {
		select {
		case ev := <-watcher.ch:
			if deliver(ev) != nil {
				return nil
			}
			// drain what is queued before flushing, to batch writes
			for n := len(watcher.ch); n > 0; n-- {
				if deliver(<-watcher.ch) != nil {
					return nil
				}
			}
			flush()
		case <-watcher.done:
			return nil
		case <-ticker.C:
			if !bookmarks {
				continue
			}
			rev := s.caches.appliedRev()
			if len(watcher.ch) > 0 || rev <= lastSent {
				continue
			}
			if send(watch.Bookmark, s.bookmarkObject(sv, rev, false), nil) != nil {
				return nil
			}
			lastSent = rev
			flush()
		case <-deadline.C:
			return nil
		case <-r.Context().Done():
			return nil
		}
	}
}

// encodings memoizes the encoded WatchEvents of one cache event, so that of the watchers
// asking for the same encoding only the first pays for it, as kube-apiserver's
// cachingObject serializes an event once per encoder.
type encodings struct {
	mu    sync.Mutex // guards byKey, and is held while encoding so others wait for the result
	byKey []encodedEvent
}

// encodingKey says what a watcher's WatchEvent bytes depend on.
type encodingKey struct {
	typ       watch.EventType
	mediaType string
	gv        schema.GroupVersion
	output    outputKind
	metaGV    string
}

type encodedEvent struct {
	key  encodingKey
	data []byte
}

// get returns the bytes encoded for key, calling encode the first time. The bytes are shared
// and must not be modified. A failed encoding is not kept.
func (e *encodings) get(key encodingKey, encode func() ([]byte, error)) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, enc := range e.byKey {
		if enc.key == key {
			return enc.data, nil
		}
	}
	data, err := encode()
	if err != nil {
		return nil, err
	}
	e.byKey = append(e.byKey, encodedEvent{key: key, data: data})
	return data, nil
}

func streamSuffix(c mediaChoice) string {
	if c.info.MediaType == runtime.ContentTypeProtobuf {
		return ";stream=watch"
	}
	return ""
}

// bookmarkObject is an empty object of the served kind carrying only a resourceVersion.
func (s *Server) bookmarkObject(sv *served, rev int64, initialEventsEnd bool) runtime.Object {
	obj := sv.newServed()
	obj.GetObjectKind().SetGroupVersionKind(sv.gv.WithKind(sv.res.Kind))
	m, _ := meta.Accessor(obj)
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	if initialEventsEnd {
		m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
	}
	return obj
}

// bookmarkAs is a bookmark in the form the watcher asked for, as upstream transforms every
// event: PartialObjectMetadata for a metadata watch (whose client decodes nothing else), an empty
// Table for a Table watch, the kind itself otherwise.
func bookmarkAs(c mediaChoice, obj runtime.Object) runtime.Object {
	switch c.output {
	case outputPartialMetadata:
		return partialObject(obj, c.metaGV)
	case outputTable:
		t := &metav1.Table{ListMeta: metav1.ListMeta{ResourceVersion: metaOf(obj).GetResourceVersion()}}
		t.TypeMeta = metav1.TypeMeta{APIVersion: "meta.k8s.io/" + c.tableGV, Kind: "Table"}
		return t
	}
	return obj
}

// filterEvent turns a cache event into what a filtered watcher sees: an object that starts
// matching is ADDED, one that stops matching is DELETED.
func filterEvent(ev cacheEvent, match func(runtime.Object) bool) (watch.EventType, runtime.Object, bool) {
	if ev.typ == watch.Deleted {
		return watch.Deleted, ev.obj, match(ev.obj)
	}
	cur := match(ev.obj)
	prev := ev.prev != nil && match(ev.prev)
	switch {
	case cur && prev:
		return watch.Modified, ev.obj, true
	case cur:
		return watch.Added, ev.obj, true
	case prev:
		return watch.Deleted, ev.obj, true
	}
	return "", nil, false
}
