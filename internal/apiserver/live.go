package apiserver

import (
	"context"
	"net/http"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/internal/registry"
)

// Kinds that are computed when read (registry.Kind.Live) are served by get and list like any
// other kind: selectors, paging, tables and encodings apply to the objects their Live returns.

func (s *Server) liveSource() registry.LiveSource {
	return registry.LiveSource{
		List: func(gr schema.GroupResource, namespace string) []runtime.Object {
			c := s.caches.byGR[gr.String()]
			if c == nil {
				return nil
			}
			return c.list(namespace, nil)
		},
		NodeUsage: s.cfg.NodeUsage,
	}
}

func (s *Server) getLive(w http.ResponseWriter, r *http.Request, info requestInfo, sv *served) error {
	objs, err := sv.res.Live(r.Context(), s.liveSource(), info.Namespace, info.Name)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		return apierrors.NewNotFound(sv.cache.gr, info.Name)
	}
	return s.writeObject(w, r, http.StatusOK, sv, objs[0])
}

// listLive returns the live objects matching pred in key order, as the cache lists.
func (s *Server) listLive(ctx context.Context, info requestInfo, sv *served, pred func(runtime.Object) bool) ([]runtime.Object, error) {
	objs, err := sv.res.Live(ctx, s.liveSource(), info.Namespace, "")
	if err != nil {
		return nil, err
	}
	out := objs[:0]
	for _, o := range objs {
		if pred == nil || pred(o) {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return itemKey(out[i]) < itemKey(out[j]) })
	return out, nil
}
