package openapi

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/internal/registry"
)

// route is one operation on one path, before it is written in either OpenAPI version.
type route struct {
	gv          schema.GroupVersion
	path        string
	method      string // "get", "put", "post", "delete" or "patch"
	operationID string
	description string
	tag         string
	action      string // x-kubernetes-action; empty for discovery
	gvk         *gvk
	// pathParams are the parameters of the whole path (name, namespace, pretty).
	pathParams []param
	query      []param
	body       *body
	responses  []response
	consumes   []string
	produces   []string
}

// body is a request body: a Go type, or metav1.Patch for the patch content types.
type body struct {
	typ      reflect.Type
	required bool
}

// response is one status code's answer: a Go type, or a plain string when typ is nil.
type response struct {
	code int
	typ  reflect.Type
}

// Media types, as upstream lists them.
var (
	mediaTypes      = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	watchMediaTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf",
		"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"}
	patchMediaTypes = []string{"application/json-patch+json", "application/merge-patch+json",
		"application/strategic-merge-patch+json", "application/apply-patch+yaml"}
	anyMediaType = []string{"*/*"}
)

// servedKind is a resource at one group-version: the storage version or an AltVersion.
type servedKind struct {
	res          *registry.Resource
	gv           schema.GroupVersion
	obj, list    reflect.Type
	subresources []string
}

// routeSet collects routes and the group-version-kinds of the types they use.
type routeSet struct {
	routes []route
	kinds  map[reflect.Type][]gvk
	gvs    []schema.GroupVersion // in first-seen order
}

// buildRoutes returns the routes of every resource at every version it is served at.
func buildRoutes(resources []*registry.Resource) (*routeSet, error) {
	rs := &routeSet{kinds: map[reflect.Type][]gvk{}}
	for _, res := range resources {
		kinds, err := servedKinds(res)
		if err != nil {
			return nil, err
		}
		for _, k := range kinds {
			rs.addKind(k)
		}
	}
	// Meta types are registered in every group-version (DeleteOptions, WatchEvent) or once, in
	// the legacy v1 (Status and the discovery documents), as upstream's scheme has them.
	core := schema.GroupVersion{Version: "v1"}
	for _, t := range []runtime.Object{&metav1.Status{}, &metav1.APIResourceList{}, &metav1.APIGroup{},
		&metav1.APIGroupList{}, &metav1.APIVersions{}} {
		rs.registerKind(reflect.TypeOf(t).Elem(), core, "")
	}
	for _, gv := range rs.gvs {
		rs.registerKind(reflect.TypeFor[metav1.DeleteOptions](), gv, "DeleteOptions")
		rs.registerKind(reflect.TypeFor[metav1.WatchEvent](), gv, "WatchEvent")
	}
	for _, kinds := range rs.kinds {
		slices.SortFunc(kinds, func(a, b gvk) int {
			return strings.Compare(a.Group+"/"+a.Version+"/"+a.Kind, b.Group+"/"+b.Version+"/"+b.Kind)
		})
	}
	return rs, nil
}

// servedKinds lists the versions a resource is served at, storage version first.
func servedKinds(res *registry.Resource) ([]servedKind, error) {
	if res.New == nil || res.NewList == nil {
		return nil, fmt.Errorf("openapi: resource %s: New and NewList are required", res.GVR)
	}
	kinds := []servedKind{{res: res, gv: res.GVR.GroupVersion(), obj: typeOf(res.New()), list: typeOf(res.NewList()),
		subresources: res.Subresources}}
	for _, alt := range res.Versions {
		if alt.New == nil || alt.NewList == nil {
			return nil, fmt.Errorf("openapi: resource %s at %s: New and NewList are required", res.GVR, alt.GroupVersion)
		}
		// Other versions convert the object itself; status and scale are the generic subresources
		// that follow it.
		var subs []string
		for _, s := range res.Subresources {
			if s == "status" || s == "scale" {
				subs = append(subs, s)
			}
		}
		kinds = append(kinds, servedKind{res: res, gv: alt.GroupVersion, obj: typeOf(alt.New()),
			list: typeOf(alt.NewList()), subresources: subs})
	}
	return kinds, nil
}

func typeOf(obj runtime.Object) reflect.Type {
	t := reflect.TypeOf(obj)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// registerKind records that Go type t is served as kind (t's own name when kind is empty) in gv.
func (rs *routeSet) registerKind(t reflect.Type, gv schema.GroupVersion, kind string) {
	if kind == "" {
		kind = t.Name()
	}
	k := gvk{Group: gv.Group, Version: gv.Version, Kind: kind}
	if !slices.Contains(rs.kinds[t], k) {
		rs.kinds[t] = append(rs.kinds[t], k)
	}
}

// addKind adds the routes of one resource at one group-version.
func (rs *routeSet) addKind(k servedKind) {
	if !slices.Contains(rs.gvs, k.gv) {
		rs.gvs = append(rs.gvs, k.gv)
		rs.routes = append(rs.routes, discoveryRoute(k.gv))
	}
	res := k.res
	rs.registerKind(k.obj, k.gv, res.Kind)
	rs.registerKind(k.list, k.gv, res.ListKind)

	prefix := gvPrefix(k.gv)
	scope, nsPath := "", ""
	if res.Namespaced {
		scope, nsPath = "Namespaced", "/namespaces/{namespace}"
	}
	collection := prefix + nsPath + "/" + res.GVR.Resource
	item := collection + "/{name}"
	kind := &gvk{Group: k.gv.Group, Version: k.gv.Version, Kind: res.Kind}
	b := routeBuilder{gv: k.gv, id: groupVersionID(k.gv), tag: groupVersionTag(k.gv)}

	collectionParams := b.pathParams(collection, "")
	itemParams := b.pathParams(item, res.Kind)
	listQuery := optionParams(reflect.TypeFor[metav1.ListOptions]())
	deleteQuery := optionParams(reflect.TypeFor[metav1.DeleteOptions]())
	deleteCollectionQuery := append(slices.Clone(deleteQuery), withoutParams(listQuery, "watch", "allowWatchBookmarks")...)
	slices.SortFunc(deleteCollectionQuery, func(a, b param) int { return strings.Compare(a.name, b.name) })
	createQuery := optionParams(reflect.TypeFor[metav1.CreateOptions]())
	updateQuery := optionParams(reflect.TypeFor[metav1.UpdateOptions]())
	patchQuery := optionParams(reflect.TypeFor[metav1.PatchOptions]())
	status := reflect.TypeFor[metav1.Status]()
	watchEvent := reflect.TypeFor[metav1.WatchEvent]()

	for _, verb := range res.Verbs {
		switch verb {
		case "list":
			rs.add(b.route(collection, "get", "list", "list"+scope+res.Kind, "list or watch objects of kind "+res.Kind,
				kind, collectionParams, listQuery, nil, watchMediaTypes, ok(k.list)))
			if res.Namespaced {
				all := prefix + "/" + res.GVR.Resource
				rs.add(b.route(all, "get", "list", "list"+res.Kind+"ForAllNamespaces", "list or watch objects of kind "+res.Kind,
					kind, b.pathParams(all, ""), listQuery, nil, watchMediaTypes, ok(k.list)))
			}
		case "watch":
			watchList := prefix + "/watch" + nsPath + "/" + res.GVR.Resource
			rs.add(b.route(watchList, "get", "watchlist", "watch"+scope+res.Kind+"List",
				"watch individual changes to a list of "+res.Kind+". deprecated: use the 'watch' parameter with a list operation instead.",
				kind, b.pathParams(watchList, ""), listQuery, nil, watchMediaTypes, ok(watchEvent)))
			watchItem := watchList + "/{name}"
			rs.add(b.route(watchItem, "get", "watch", "watch"+scope+res.Kind,
				"watch changes to an object of kind "+res.Kind+". deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter.",
				kind, b.pathParams(watchItem, res.Kind), listQuery, nil, watchMediaTypes, ok(watchEvent)))
			if res.Namespaced {
				all := prefix + "/watch/" + res.GVR.Resource
				rs.add(b.route(all, "get", "watchlist", "watch"+res.Kind+"ListForAllNamespaces",
					"watch individual changes to a list of "+res.Kind+". deprecated: use the 'watch' parameter with a list operation instead.",
					kind, b.pathParams(all, ""), listQuery, nil, watchMediaTypes, ok(watchEvent)))
			}
		case "create":
			rs.add(b.route(collection, "post", "post", "create"+scope+res.Kind, "create a "+res.Kind,
				kind, collectionParams, createQuery, &body{typ: k.obj, required: true}, mediaTypes, created(k.obj)))
		case "deletecollection":
			rs.add(b.route(collection, "delete", "deletecollection", "delete"+"Collection"+scope+res.Kind,
				"delete collection of "+res.Kind, kind, collectionParams, deleteCollectionQuery,
				&body{typ: reflect.TypeFor[metav1.DeleteOptions]()}, mediaTypes, ok(status)))
		case "get":
			rs.add(b.route(item, "get", "get", "read"+scope+res.Kind, "read the specified "+res.Kind,
				kind, itemParams, nil, nil, mediaTypes, ok(k.obj)))
		case "update":
			rs.add(b.route(item, "put", "put", "replace"+scope+res.Kind, "replace the specified "+res.Kind,
				kind, itemParams, updateQuery, &body{typ: k.obj, required: true}, mediaTypes, replaced(k.obj)))
		case "patch":
			rs.add(b.patchRoute(item, "patch"+scope+res.Kind, "partially update the specified "+res.Kind,
				kind, itemParams, patchQuery, k.obj))
		case "delete":
			rs.add(b.route(item, "delete", "delete", "delete"+scope+res.Kind, "delete a "+res.Kind,
				kind, itemParams, deleteQuery, &body{typ: reflect.TypeFor[metav1.DeleteOptions]()}, mediaTypes,
				[]response{{200, status}, {202, status}}))
		}
	}

	for _, sub := range k.subresources {
		path := item + "/" + sub
		params := b.pathParams(path, res.Kind)
		suffix := camel(sub, true)
		switch sub {
		case "status", "scale":
			obj, subKind := k.obj, kind
			if sub == "scale" {
				obj = reflect.TypeFor[autoscalingv1.Scale]()
				subKind = &gvk{Group: "autoscaling", Version: "v1", Kind: "Scale"}
				rs.registerKind(obj, schema.GroupVersion{Group: "autoscaling", Version: "v1"}, "Scale")
			}
			rs.add(b.route(path, "get", "get", "read"+scope+res.Kind+suffix, "read "+sub+" of the specified "+res.Kind,
				subKind, params, nil, nil, mediaTypes, ok(obj)))
			rs.add(b.route(path, "put", "put", "replace"+scope+res.Kind+suffix, "replace "+sub+" of the specified "+res.Kind,
				subKind, params, updateQuery, &body{typ: obj, required: true}, mediaTypes, replaced(obj)))
			rs.add(b.patchRoute(path, "patch"+scope+res.Kind+suffix, "partially update "+sub+" of the specified "+res.Kind,
				subKind, params, patchQuery, obj))
		case "binding", "eviction":
			obj := reflect.TypeFor[corev1.Binding]()
			subKind := &gvk{Group: k.gv.Group, Version: k.gv.Version, Kind: "Binding"}
			if sub == "eviction" {
				obj = reflect.TypeFor[policyv1.Eviction]()
				subKind = &gvk{Group: "policy", Version: "v1", Kind: "Eviction"}
			}
			rs.registerKind(obj, schema.GroupVersion{Group: subKind.Group, Version: subKind.Version}, subKind.Kind)
			rs.add(b.route(path, "post", "post", "create"+scope+res.Kind+suffix, "create "+sub+" of a "+res.Kind,
				subKind, params, createQuery, &body{typ: obj, required: true}, mediaTypes, created(obj)))
		case "finalize":
			rs.add(b.route(path, "put", "put", "replace"+scope+res.Kind+suffix, "replace finalize of the specified "+res.Kind,
				kind, params, updateQuery, &body{typ: k.obj, required: true}, mediaTypes, replaced(k.obj)))
		case "log":
			if res.Kind != "Pod" {
				continue
			}
			rs.add(b.route(path, "get", "get", "read"+scope+res.Kind+suffix, "read log of the specified "+res.Kind,
				kind, params, optionParams(reflect.TypeFor[corev1.PodLogOptions]()), nil,
				[]string{"text/plain", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"},
				[]response{{200, nil}}))
		case "proxy":
			rs.addProxyRoutes(b, k, item+"/proxy", scope)
		}
	}
}

// addProxyRoutes adds the connect operations of a pod, service or node proxy.
func (rs *routeSet) addProxyRoutes(b routeBuilder, k servedKind, path, scope string) {
	var options reflect.Type
	switch k.res.Kind {
	case "Pod":
		options = reflect.TypeFor[corev1.PodProxyOptions]()
	case "Service":
		options = reflect.TypeFor[corev1.ServiceProxyOptions]()
	case "Node":
		options = reflect.TypeFor[corev1.NodeProxyOptions]()
	default:
		return
	}
	kind := &gvk{Group: k.gv.Group, Version: k.gv.Version, Kind: options.Name()}
	withPath := path + "/{path}"
	for _, method := range []string{"delete", "get", "patch", "post", "put"} {
		verb := camel(method, true)
		desc := "connect " + strings.ToUpper(method) + " requests to proxy of " + k.res.Kind
		rs.add(b.route(path, method, "connect", "connect"+verb+scope+k.res.Kind+"Proxy", desc, kind,
			b.pathParams(path, k.res.Kind), optionParams(options), nil, anyMediaType, []response{{200, nil}}))
		rs.add(b.route(withPath, method, "connect", "connect"+verb+scope+k.res.Kind+"ProxyWithPath", desc, kind,
			b.pathParams(withPath, k.res.Kind), optionParams(options), nil, anyMediaType, []response{{200, nil}}))
	}
}

func (rs *routeSet) add(r route) { rs.routes = append(rs.routes, r) }

// discoveryRoute is the group-version's resource list (GET /apis/apps/v1/).
func discoveryRoute(gv schema.GroupVersion) route {
	return route{
		gv: gv, path: gvPrefix(gv) + "/", method: "get",
		operationID: "get" + groupVersionID(gv) + "APIResources", description: "get available resources",
		tag: groupVersionTag(gv), consumes: mediaTypes, produces: mediaTypes,
		responses: []response{{200, reflect.TypeFor[metav1.APIResourceList]()}},
	}
}

// routeBuilder fills in what every route of one group-version shares.
type routeBuilder struct {
	gv      schema.GroupVersion
	id, tag string
}

func (b routeBuilder) route(path, method, action, op, description string, kind *gvk, pathParams, query []param,
	body *body, produces []string, responses []response) route {
	return route{
		gv: b.gv, path: path, method: method, action: action, gvk: kind, tag: b.tag,
		operationID: lowerFirst(op, b.id), description: description,
		pathParams: pathParams, query: query, body: body,
		consumes: anyMediaType, produces: produces, responses: responses,
	}
}

// patchRoute is a PATCH of obj, accepting every patch type including server-side apply.
func (b routeBuilder) patchRoute(path, op, description string, kind *gvk, pathParams, query []param,
	obj reflect.Type) route {
	r := b.route(path, "patch", "patch", op, description, kind, pathParams, query,
		&body{typ: reflect.TypeFor[metav1.Patch](), required: true}, mediaTypes, replaced(obj))
	r.consumes = patchMediaTypes
	return r
}

// pathParams are the parameters of a path: one per {placeholder}, then pretty.
func (b routeBuilder) pathParams(path, kind string) []param {
	var params []param
	for _, segment := range strings.Split(path, "/") {
		switch segment {
		case "{name}":
			params = append(params, param{name: "name", in: "path", typ: "string", required: true,
				description: "name of the " + kind})
		case "{namespace}":
			params = append(params, param{name: "namespace", in: "path", typ: "string", required: true,
				description: "object name and auth scope, such as for teams and projects"})
		case "{path}":
			params = append(params, param{name: "path", in: "path", typ: "string", required: true,
				description: "path to the resource"})
		}
	}
	if !strings.Contains(path, "/proxy") {
		params = append(params, param{name: "pretty", in: "query", typ: "string",
			description: "If 'true', the output is indented for reading. Defaults to 'false' unless the user agent looks like a browser or a command-line HTTP tool such as curl or wget."})
	}
	return params
}

func ok(t reflect.Type) []response { return []response{{200, t}} }

func created(t reflect.Type) []response { return []response{{200, t}, {201, t}, {202, t}} }

func replaced(t reflect.Type) []response { return []response{{200, t}, {201, t}} }
