package endpointslice

import (
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// Index names the EndpointSlice informer index from "<namespace>/<service name>" to the slices
// labelled for that Service (kubernetes.io/service-name).
const Index = "skiff.dev/service-name"

// AddIndex adds Index to an EndpointSlice informer unless it is there already, so that every
// user of a shared informer may call it.
func AddIndex(inf cache.SharedIndexInformer) error {
	if _, ok := inf.GetIndexer().GetIndexers()[Index]; ok {
		return nil
	}
	return inf.AddIndexers(cache.Indexers{Index: func(obj any) ([]string, error) {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return nil, nil
		}
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" {
			return nil, nil
		}
		return []string{s.Namespace + "/" + name}, nil
	}})
}

// ForService returns the slices in indexer, which has Index, labelled for the Service ns/name.
func ForService(indexer cache.Indexer, ns, name string) []*discoveryv1.EndpointSlice {
	objs, err := indexer.ByIndex(Index, ns+"/"+name)
	if err != nil {
		return nil
	}
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			out = append(out, s)
		}
	}
	return out
}
