package openapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// operation is what the tests read of an operation, in either version.
type operation struct {
	OperationID string          `json:"operationId"`
	Action      string          `json:"x-kubernetes-action"`
	GVK         *gvk            `json:"x-kubernetes-group-version-kind"`
	Consumes    []string        `json:"consumes"`
	Parameters  []parameterV2   `json:"parameters"`
	RequestBody json.RawMessage `json:"requestBody"`
}

type pathItem struct {
	Get, Put, Post, Delete, Patch *operation
	Parameters                    []parameterV2 `json:"parameters"`
}

func (p pathItem) operation(method string) *operation {
	switch method {
	case "GET":
		return p.Get
	case "PUT":
		return p.Put
	case "POST":
		return p.Post
	case "DELETE":
		return p.Delete
	case "PATCH":
		return p.Patch
	}
	return nil
}

// servedPaths returns the paths of the v2 document and of every v3 document, by document.
func servedPaths(t *testing.T, h *Handler) map[string]map[string]pathItem {
	t.Helper()
	docs := map[string]map[string]pathItem{}
	decode := func(name, target string) {
		w := get(h, http.MethodGet, target, nil)
		var doc struct {
			Paths      map[string]pathItem    `json:"paths"`
			Parameters map[string]parameterV2 `json:"parameters"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("decode %s: %v", target, err)
		}
		// Resolve v2's shared parameters so both versions read alike.
		resolve := func(params []parameterV2) {
			for i, p := range params {
				if p.Ref != "" {
					shared, ok := doc.Parameters[strings.TrimPrefix(p.Ref, "#/parameters/")]
					if !ok {
						t.Fatalf("%s: dangling parameter %s", name, p.Ref)
					}
					params[i] = shared
				}
			}
		}
		for _, item := range doc.Paths {
			resolve(item.Parameters)
			for _, op := range []*operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
				if op != nil {
					resolve(op.Parameters)
				}
			}
		}
		docs[name] = doc.Paths
	}
	decode("v2", "/openapi/v2")
	for key := range h.v3 {
		decode("v3 "+key, "/openapi/v3/"+key)
	}
	return docs
}

func TestOperations(t *testing.T) {
	h := newHandler(t)
	docs := servedPaths(t, h)
	tests := []struct {
		name, doc, method, path, id, action string
		gvk                                 *gvk
	}{
		{name: "list namespaced", doc: "apis/apps/v1", method: "GET", path: "/apis/apps/v1/namespaces/{namespace}/deployments",
			id: "listAppsV1NamespacedDeployment", action: "list", gvk: &gvk{"apps", "Deployment", "v1"}},
		{name: "list across namespaces", doc: "apis/apps/v1", method: "GET", path: "/apis/apps/v1/deployments",
			id: "listAppsV1DeploymentForAllNamespaces", action: "list", gvk: &gvk{"apps", "Deployment", "v1"}},
		{name: "create", doc: "apis/apps/v1", method: "POST", path: "/apis/apps/v1/namespaces/{namespace}/deployments",
			id: "createAppsV1NamespacedDeployment", action: "post", gvk: &gvk{"apps", "Deployment", "v1"}},
		{name: "delete collection", doc: "apis/apps/v1", method: "DELETE", path: "/apis/apps/v1/namespaces/{namespace}/deployments",
			id: "deleteAppsV1CollectionNamespacedDeployment", action: "deletecollection", gvk: &gvk{"apps", "Deployment", "v1"}},
		{name: "read", doc: "apis/apps/v1", method: "GET", path: "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
			id: "readAppsV1NamespacedDeployment", action: "get", gvk: &gvk{"apps", "Deployment", "v1"}},
		{name: "replace", doc: "apis/apps/v1", method: "PUT", path: "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
			id: "replaceAppsV1NamespacedDeployment", action: "put", gvk: &gvk{"apps", "Deployment", "v1"}},
		{name: "patch", doc: "apis/apps/v1", method: "PATCH", path: "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
			id: "patchAppsV1NamespacedDeployment", action: "patch", gvk: &gvk{"apps", "Deployment", "v1"}},
		{name: "delete", doc: "apis/apps/v1", method: "DELETE", path: "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
			id: "deleteAppsV1NamespacedDeployment", action: "delete", gvk: &gvk{"apps", "Deployment", "v1"}},
		{name: "watch one", doc: "apis/apps/v1", method: "GET", path: "/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}",
			id: "watchAppsV1NamespacedDeployment", action: "watch", gvk: &gvk{"apps", "Deployment", "v1"}},
		{name: "watch list", doc: "apis/apps/v1", method: "GET", path: "/apis/apps/v1/watch/namespaces/{namespace}/deployments",
			id: "watchAppsV1NamespacedDeploymentList", action: "watchlist", gvk: &gvk{"apps", "Deployment", "v1"}},
		{name: "status patch", doc: "apis/apps/v1", method: "PATCH", path: "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status",
			id: "patchAppsV1NamespacedDeploymentStatus", action: "patch", gvk: &gvk{"apps", "Deployment", "v1"}},
		{name: "scale is autoscaling/v1 Scale", doc: "apis/apps/v1", method: "PUT", path: "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
			id: "replaceAppsV1NamespacedDeploymentScale", action: "put", gvk: &gvk{"autoscaling", "Scale", "v1"}},
		{name: "alternative version", doc: "apis/apps/v1beta1", method: "PATCH", path: "/apis/apps/v1beta1/namespaces/{namespace}/deployments/{name}",
			id: "patchAppsV1beta1NamespacedDeployment", action: "patch", gvk: &gvk{"apps", "Deployment", "v1beta1"}},
		{name: "alternative version scale", doc: "apis/apps/v1beta1", method: "GET", path: "/apis/apps/v1beta1/namespaces/{namespace}/deployments/{name}/scale",
			id: "readAppsV1beta1NamespacedDeploymentScale", action: "get", gvk: &gvk{"autoscaling", "Scale", "v1"}},
		{name: "cluster-scoped", doc: "api/v1", method: "GET", path: "/api/v1/nodes/{name}/status",
			id: "readCoreV1NodeStatus", action: "get", gvk: &gvk{"", "Node", "v1"}},
		{name: "cluster-scoped delete collection", doc: "api/v1", method: "DELETE", path: "/api/v1/nodes",
			id: "deleteCoreV1CollectionNode", action: "deletecollection", gvk: &gvk{"", "Node", "v1"}},
		{name: "namespace finalize", doc: "api/v1", method: "PUT", path: "/api/v1/namespaces/{name}/finalize",
			id: "replaceCoreV1NamespaceFinalize", action: "put", gvk: &gvk{"", "Namespace", "v1"}},
		{name: "pod binding", doc: "api/v1", method: "POST", path: "/api/v1/namespaces/{namespace}/pods/{name}/binding",
			id: "createCoreV1NamespacedPodBinding", action: "post", gvk: &gvk{"", "Binding", "v1"}},
		{name: "pod eviction", doc: "api/v1", method: "POST", path: "/api/v1/namespaces/{namespace}/pods/{name}/eviction",
			id: "createCoreV1NamespacedPodEviction", action: "post", gvk: &gvk{"policy", "Eviction", "v1"}},
		{name: "pod log", doc: "api/v1", method: "GET", path: "/api/v1/namespaces/{namespace}/pods/{name}/log",
			id: "readCoreV1NamespacedPodLog", action: "get", gvk: &gvk{"", "Pod", "v1"}},
		{name: "pod proxy", doc: "api/v1", method: "GET", path: "/api/v1/namespaces/{namespace}/pods/{name}/proxy/{path}",
			id: "connectCoreV1GetNamespacedPodProxyWithPath", action: "connect", gvk: &gvk{"", "PodProxyOptions", "v1"}},
		{name: "dotted group", doc: "apis/discovery.k8s.io/v1", method: "GET", path: "/apis/discovery.k8s.io/v1/endpointslices",
			id: "listDiscoveryV1EndpointSliceForAllNamespaces", action: "list", gvk: &gvk{"discovery.k8s.io", "EndpointSlice", "v1"}},
		{name: "resource list", doc: "apis/coordination.k8s.io/v1", method: "GET", path: "/apis/coordination.k8s.io/v1/",
			id: "getCoordinationV1APIResources"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, doc := range []string{"v2", "v3 " + tt.doc} {
				op := docs[doc][tt.path].operation(tt.method)
				if op == nil {
					t.Fatalf("%s: no %s %s", doc, tt.method, tt.path)
				}
				if op.OperationID != tt.id || op.Action != tt.action {
					t.Errorf("%s: operationId %q, action %q; want %q, %q", doc, op.OperationID, op.Action, tt.id, tt.action)
				}
				if mustJSON(t, op.GVK) != mustJSON(t, tt.gvk) {
					t.Errorf("%s: group-version-kind %s, want %s", doc, mustJSON(t, op.GVK), mustJSON(t, tt.gvk))
				}
			}
		})
	}

	t.Run("verbs a resource lacks are left out", func(t *testing.T) {
		if op := docs["v2"]["/api/v1/namespaces"].Delete; op != nil {
			t.Errorf("namespaces have no deletecollection, but the document has %s", op.OperationID)
		}
	})
}

// TestWritesTakeFieldValidation checks every create, update and patch offers what kubectl sends:
// fieldValidation (or kubectl falls back to client-side validation), dryRun, fieldManager, pretty.
func TestWritesTakeFieldValidation(t *testing.T) {
	h := newHandler(t)
	for doc, paths := range servedPaths(t, h) {
		for path, item := range paths {
			for _, method := range []string{"POST", "PUT", "PATCH"} {
				op := item.operation(method)
				if op == nil || op.Action == "connect" {
					continue
				}
				params := map[string]bool{}
				for _, p := range append(append([]parameterV2{}, item.Parameters...), op.Parameters...) {
					if p.In == "query" {
						params[p.Name] = true
					}
				}
				for _, want := range []string{"fieldValidation", "dryRun", "fieldManager", "pretty"} {
					if !params[want] {
						t.Errorf("%s %s %s (%s) has no %s parameter", doc, method, path, op.OperationID, want)
					}
				}
			}
			if op := item.Patch; op != nil && op.Action == "patch" && doc == "v2" {
				for _, want := range patchMediaTypes {
					if !strings.Contains(strings.Join(op.Consumes, " "), want) {
						t.Errorf("%s PATCH %s does not consume %s", doc, path, want)
					}
				}
			}
			if op := item.Patch; op != nil && op.Action == "patch" && doc != "v2" {
				for _, want := range patchMediaTypes {
					if !strings.Contains(string(op.RequestBody), `"`+want+`"`) {
						t.Errorf("%s PATCH %s takes no %s body", doc, path, want)
					}
				}
			}
		}
	}
}

func TestOperationIDsAreUnique(t *testing.T) {
	h := newHandler(t)
	seen := map[string]string{}
	for path, item := range servedPaths(t, h)["v2"] {
		for _, method := range []string{"GET", "PUT", "POST", "DELETE", "PATCH"} {
			if op := item.operation(method); op != nil {
				where := method + " " + path
				if prev, dup := seen[op.OperationID]; dup {
					t.Errorf("operationId %s names both %s and %s", op.OperationID, prev, where)
				}
				seen[op.OperationID] = where
			}
		}
	}
}

func TestCamel(t *testing.T) {
	tests := []struct {
		name, in   string
		upperFirst bool
		want       string
	}{
		{name: "version", in: "v1beta1", upperFirst: true, want: "V1beta1"},
		{name: "dotted group", in: "rbac.authorization", upperFirst: true, want: "RbacAuthorization"},
		{name: "tag keeps its first letter", in: "rbac.authorization", want: "rbacAuthorization"},
		{name: "dashes split words", in: "flow-control", upperFirst: true, want: "FlowControl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := camel(tt.in, tt.upperFirst); got != tt.want {
				t.Errorf("camel(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
