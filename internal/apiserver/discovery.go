package apiserver

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apidiscoveryv2beta1 "k8s.io/api/apidiscovery/v2beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// subresourceSpec is how discovery describes one subresource.
type subresourceSpec struct {
	gvk   func(parent schema.GroupVersionKind) schema.GroupVersionKind
	verbs []string
}

var subresourceSpecs = map[string]subresourceSpec{
	"status": {gvk: func(p schema.GroupVersionKind) schema.GroupVersionKind { return p }, verbs: []string{"get", "patch", "update"}},
	"scale": {gvk: func(schema.GroupVersionKind) schema.GroupVersionKind {
		return schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}
	}, verbs: []string{"get", "patch", "update"}},
	"binding": {gvk: func(schema.GroupVersionKind) schema.GroupVersionKind {
		return schema.GroupVersionKind{Version: "v1", Kind: "Binding"}
	}, verbs: []string{"create"}},
	"log": {gvk: func(p schema.GroupVersionKind) schema.GroupVersionKind { return p }, verbs: []string{"get"}},
	"eviction": {gvk: func(schema.GroupVersionKind) schema.GroupVersionKind {
		return schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}
	}, verbs: []string{"create"}},
	"finalize":    {gvk: func(p schema.GroupVersionKind) schema.GroupVersionKind { return p }, verbs: []string{"update"}},
	"exec":        streamSubresource("PodExecOptions"),
	"attach":      streamSubresource("PodAttachOptions"),
	"portforward": streamSubresource("PodPortForwardOptions"),
	"proxy": {gvk: func(p schema.GroupVersionKind) schema.GroupVersionKind {
		return schema.GroupVersionKind{Version: "v1", Kind: p.Kind + "ProxyOptions"}
	}, verbs: []string{"create", "delete", "get", "patch", "update"}},
}

// streamSubresource is a pod's exec, attach or portforward: GET (WebSocket) or POST (SPDY)
// upgrade requests with options of the given kind, as upstream's discovery lists them.
func streamSubresource(kind string) subresourceSpec {
	return subresourceSpec{gvk: func(schema.GroupVersionKind) schema.GroupVersionKind {
		return schema.GroupVersionKind{Version: "v1", Kind: kind}
	}, verbs: []string{"create", "get"}}
}

// resourcesAt returns the served resources of one group-version, in registry order.
func (s *Server) resourcesAt(gv schema.GroupVersion) []*served {
	var out []*served
	for _, res := range s.cfg.Resources {
		if sv, ok := s.served[gvr{gv.Group, gv.Version, res.GVR.Resource}]; ok {
			out = append(out, sv)
		}
	}
	return out
}

// subresourcesOf returns the subresources served at sv's version (alt versions serve status only).
func subresourcesOf(sv *served) []string {
	if sv.alt != nil {
		return []string{"status"}
	}
	return sv.res.Subresources
}

func (s *Server) apiResourceList(gv schema.GroupVersion) *metav1.APIResourceList {
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	for _, sv := range s.resourcesAt(gv) {
		r := sv.res
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: r.GVR.Resource, SingularName: r.SingularName, Namespaced: r.Namespaced, Kind: r.Kind,
			Verbs: r.Verbs, ShortNames: r.ShortNames, Categories: r.Categories,
			StorageVersionHash: storageVersionHash(r.GVR.GroupVersion().WithKind(r.Kind)),
		})
		parent := gv.WithKind(r.Kind)
		for _, sub := range subresourcesOf(sv) {
			spec := subresourceSpecs[sub]
			gvk := spec.gvk(parent)
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: r.GVR.Resource + "/" + sub, Namespaced: r.Namespaced, Group: gvk.Group, Version: gvk.Version,
				Kind: gvk.Kind, Verbs: spec.verbs,
			})
		}
	}
	return list
}

func storageVersionHash(gvk schema.GroupVersionKind) string {
	sum := sha256.Sum256([]byte(gvk.String()))
	return hexB64(sum[:8])
}

func hexB64(b []byte) string {
	// upstream uses base64 of the first 8 bytes; any stable opaque string works for clients.
	return strings.TrimRight(strings.NewReplacer("+", "A", "/", "B").Replace(encodeB64(b)), "=")
}

func (s *Server) apiGroup(g apiGroup) metav1.APIGroup {
	ag := metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: g.name}
	for _, v := range g.versions {
		ag.Versions = append(ag.Versions, metav1.GroupVersionForDiscovery{GroupVersion: g.name + "/" + v, Version: v})
	}
	ag.PreferredVersion = ag.Versions[0]
	return ag
}

func (s *Server) aggregated(core bool) *apidiscoveryv2.APIGroupDiscoveryList {
	list := &apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	for _, g := range s.groups {
		if (g.name == "") != core {
			continue
		}
		gd := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: g.name}}
		for _, v := range g.versions {
			gv := schema.GroupVersion{Group: g.name, Version: v}
			vd := apidiscoveryv2.APIVersionDiscovery{Version: v, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
			for _, sv := range s.resourcesAt(gv) {
				r := sv.res
				scope := apidiscoveryv2.ScopeCluster
				if r.Namespaced {
					scope = apidiscoveryv2.ScopeNamespace
				}
				parent := gv.WithKind(r.Kind)
				rd := apidiscoveryv2.APIResourceDiscovery{
					Resource: r.GVR.Resource, SingularResource: r.SingularName, Scope: scope,
					ResponseKind: &metav1.GroupVersionKind{Group: parent.Group, Version: parent.Version, Kind: parent.Kind},
					Verbs:        r.Verbs, ShortNames: r.ShortNames, Categories: r.Categories,
				}
				for _, sub := range subresourcesOf(sv) {
					spec := subresourceSpecs[sub]
					gvk := spec.gvk(parent)
					rd.Subresources = append(rd.Subresources, apidiscoveryv2.APISubresourceDiscovery{
						Subresource:  sub,
						ResponseKind: &metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
						Verbs:        spec.verbs,
					})
				}
				vd.Resources = append(vd.Resources, rd)
			}
			sort.SliceStable(vd.Resources, func(i, j int) bool { return vd.Resources[i].Resource < vd.Resources[j].Resource })
			gd.Versions = append(gd.Versions, vd)
		}
		list.Items = append(list.Items, gd)
	}
	return list
}

// serveDiscovery answers /api, /apis, /apis/<group> and /api(s)/.../<version>.
func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request, info requestInfo) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, r, apierrors.NewMethodNotSupported(schemaGR("", "discovery"), r.Method))
		return
	}
	p := info.Parts
	notFound := func() { s.writeError(w, r, apierrors.NewNotFound(schemaGR("", ""), r.URL.Path)) }
	switch {
	case len(p) == 1 && (p[0] == "api" || p[0] == "apis"):
		core := p[0] == "api"
		if v := aggregatedVersion(r.Header.Get("Accept")); v != "" {
			s.writeAggregated(w, r, s.aggregated(core), v)
			return
		}
		if core {
			s.writeJSONValue(w, http.StatusOK, &metav1.APIVersions{
				TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
				ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}},
			})
			return
		}
		list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		for _, g := range s.groups {
			if g.name != "" {
				list.Groups = append(list.Groups, s.apiGroup(g))
			}
		}
		s.writeJSONValue(w, http.StatusOK, list)
	case len(p) == 2 && p[0] == "apis":
		for _, g := range s.groups {
			if g.name == p[1] && g.name != "" {
				ag := s.apiGroup(g)
				s.writeJSONValue(w, http.StatusOK, &ag)
				return
			}
		}
		notFound()
	case (len(p) == 2 && p[0] == "api") || (len(p) == 3 && p[0] == "apis"):
		gv := schema.GroupVersion{Version: p[1]}
		if p[0] == "apis" {
			gv = schema.GroupVersion{Group: p[1], Version: p[2]}
		}
		if len(s.resourcesAt(gv)) == 0 || (p[0] == "api" && gv.Version != "v1") {
			notFound()
			return
		}
		s.writeJSONValue(w, http.StatusOK, s.apiResourceList(gv))
	default:
		notFound()
	}
}

// aggregatedVersion returns "v2" or "v2beta1" when the Accept header asks for aggregated
// discovery (the first such entry wins), else "".
func aggregatedVersion(accept string) string {
	for _, e := range parseAccept(accept) {
		if e.params["as"] == "APIGroupDiscoveryList" && e.params["g"] == "apidiscovery.k8s.io" &&
			(e.mediaType == "application/json" || e.mediaType == "*/*") {
			if v := e.params["v"]; v == "v2" || v == "v2beta1" {
				return v
			}
		}
		if e.params["as"] == "" && (e.mediaType == "application/json" || e.mediaType == "*/*") {
			return ""
		}
	}
	return ""
}

func (s *Server) writeAggregated(w http.ResponseWriter, r *http.Request, list *apidiscoveryv2.APIGroupDiscoveryList, v string) {
	var body []byte
	var err error
	if v == "v2" {
		body, err = json.Marshal(list)
	} else {
		var beta apidiscoveryv2beta1.APIGroupDiscoveryList
		raw, _ := json.Marshal(list)
		if err = json.Unmarshal(raw, &beta); err == nil {
			beta.APIVersion = "apidiscovery.k8s.io/v2beta1"
			body, err = json.Marshal(&beta)
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("Content-Type", "application/json;g=apidiscovery.k8s.io;v="+v+";as=APIGroupDiscoveryList")
	w.Header().Set("Vary", "Accept")
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (s *Server) writeJSONValue(w http.ResponseWriter, code int, v interface{}) {
	body, err := json.Marshal(v)
	if err != nil {
		code, body = http.StatusInternalServerError, []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","code":500}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func schemaGR(group, resource string) schema.GroupResource {
	return schema.GroupResource{Group: group, Resource: resource}
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
