package openapi

import (
	"fmt"
	"net/http"
	"strconv"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// buildV3 writes the routes of each group-version into its own OpenAPI 3.0 document, which holds
// only the definitions its routes use, directly or not.
func buildV3(rs *routeSet, version string) (map[schema.GroupVersion]*openAPIV3, error) {
	defs := newDefinitions(openAPI3, rs.kinds)
	docs := map[schema.GroupVersion]*openAPIV3{}
	roots := map[schema.GroupVersion][]string{}
	for _, r := range rs.routes {
		doc := docs[r.gv]
		if doc == nil {
			doc = &openAPIV3{
				OpenAPI: "3.0.0", Info: info{Title: "Kubernetes", Version: version}, Paths: map[string]*pathItemV3{},
				Components: componentsV3{SecuritySchemes: bearerToken()}, Security: bearerSecurity(),
			}
			docs[r.gv] = doc
		}
		op, used, err := operationV3For(r, defs)
		if err != nil {
			return nil, fmt.Errorf("openapi: v3 %s %s: %w", r.method, r.path, err)
		}
		roots[r.gv] = append(roots[r.gv], used...)
		item := doc.Paths[r.path]
		if item == nil {
			item = &pathItemV3{}
			for _, p := range r.pathParams {
				item.Parameters = append(item.Parameters, parameterV3For(p))
			}
			doc.Paths[r.path] = item
		}
		slot := item.operation(r.method)
		if slot == nil {
			return nil, fmt.Errorf("openapi: v3 %s %s: unsupported method", r.method, r.path)
		}
		if *slot != nil {
			return nil, fmt.Errorf("openapi: v3 %s %s: defined twice (%s and %s)", r.method, r.path, (*slot).OperationID, op.OperationID)
		}
		*slot = op
	}
	for gv, doc := range docs {
		doc.Components.Schemas = defs.closure(roots[gv])
	}
	return docs, nil
}

func (p *pathItemV3) operation(method string) **operationV3 {
	switch method {
	case "get":
		return &p.Get
	case "put":
		return &p.Put
	case "post":
		return &p.Post
	case "delete":
		return &p.Delete
	case "patch":
		return &p.Patch
	}
	return nil
}

// operationV3For writes one route; it also returns the definitions the route refers to.
func operationV3For(r route, defs *definitions) (*operationV3, []string, error) {
	op := &operationV3{
		Tags: []string{r.tag}, Description: r.description, OperationID: r.operationID,
		Action: r.action, GVK: r.gvk, Responses: map[string]responseV3{},
	}
	var used []string
	if r.body != nil {
		s, name, err := typeSchema(defs, r.body.typ)
		if err != nil {
			return nil, nil, err
		}
		used = append(used, name)
		op.RequestBody = &requestBodyV3{Content: content(r.consumes, s), Required: r.body.required}
	}
	for _, q := range r.query {
		op.Parameters = append(op.Parameters, parameterV3For(q))
	}
	for _, resp := range r.responses {
		s, name, err := typeSchema(defs, resp.typ)
		if err != nil {
			return nil, nil, err
		}
		if name != "" {
			used = append(used, name)
		}
		op.Responses[strconv.Itoa(resp.code)] = responseV3{Description: http.StatusText(resp.code), Content: content(r.produces, s)}
	}
	op.Responses["401"] = responseV3{Description: http.StatusText(http.StatusUnauthorized)}
	return op, used, nil
}

func content(mediaTypes []string, s *jsonSchema) map[string]mediaTypeV3 {
	c := make(map[string]mediaTypeV3, len(mediaTypes))
	for _, mt := range mediaTypes {
		c[mt] = mediaTypeV3{Schema: s}
	}
	return c
}

func parameterV3For(p param) parameterV3 {
	return parameterV3{Name: p.name, In: p.in, Description: p.description, Required: p.required,
		Schema: &jsonSchema{Type: p.typ, UniqueItems: true}}
}
