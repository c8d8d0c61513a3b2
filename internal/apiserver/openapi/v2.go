package openapi

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"reflect"
	"strconv"
)

// buildV2 writes every route into one Swagger 2.0 document, with the definitions they use.
func buildV2(rs *routeSet, version string) (*swaggerV2, error) {
	defs := newDefinitions(swagger2, rs.kinds)
	doc := &swaggerV2{
		Swagger: "2.0", Info: info{Title: "Kubernetes", Version: version},
		Paths: map[string]*pathItemV2{}, SecurityDefinitions: bearerToken(), Security: bearerSecurity(),
	}
	params := parameterSharer{shared: map[string]parameterV2{}, keys: map[parameterContent]string{}}
	for _, r := range rs.routes {
		op, err := operationV2For(r, defs)
		if err != nil {
			return nil, fmt.Errorf("openapi: v2 %s %s: %w", r.method, r.path, err)
		}
		op.Parameters = params.share(op.Parameters)
		item := doc.Paths[r.path]
		if item == nil {
			item = &pathItemV2{}
			for _, p := range r.pathParams {
				item.Parameters = append(item.Parameters, parameterV2For(p))
			}
			item.Parameters = params.share(item.Parameters)
			doc.Paths[r.path] = item
		}
		slot := item.operation(r.method)
		if slot == nil {
			return nil, fmt.Errorf("openapi: v2 %s %s: unsupported method", r.method, r.path)
		}
		if *slot != nil {
			return nil, fmt.Errorf("openapi: v2 %s %s: defined twice (%s and %s)", r.method, r.path, (*slot).OperationID, op.OperationID)
		}
		*slot = op
	}
	doc.Definitions = defs.schemas
	doc.Parameters = params.shared
	return doc, nil
}

// parameterSharer moves parameters into the document's shared parameters, as upstream does: the
// same long option descriptions would otherwise repeat in every operation. A shared parameter is
// named after the parameter and a hash of its content.
type parameterSharer struct {
	shared map[string]parameterV2
	keys   map[parameterContent]string
}

// parameterContent is everything that tells two parameters apart.
type parameterContent struct {
	name, in, description, typ, schemaRef string
	required                              bool
}

// share returns references to params, adding them to the shared parameters.
func (s *parameterSharer) share(params []parameterV2) []parameterV2 {
	refs := make([]parameterV2, 0, len(params))
	for _, p := range params {
		c := parameterContent{name: p.Name, in: p.In, description: p.Description, typ: p.Type, required: p.Required}
		if p.Schema != nil {
			c.schemaRef = p.Schema.Ref
		}
		key, ok := s.keys[c]
		if !ok {
			h := fnv.New32a()
			fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%t", c.name, c.in, c.description, c.typ, c.schemaRef, c.required)
			key = fmt.Sprintf("%s-%08x", p.Name, h.Sum32())
			for _, taken := s.shared[key]; taken; _, taken = s.shared[key] {
				key += "x" // a hash collision: vanishingly rare, but names must stay unique
			}
			s.keys[c] = key
			s.shared[key] = p
		}
		refs = append(refs, parameterV2{Ref: "#/parameters/" + key})
	}
	return refs
}

func (p *pathItemV2) operation(method string) **operationV2 {
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

func operationV2For(r route, defs *definitions) (*operationV2, error) {
	op := &operationV2{
		Description: r.description, Consumes: r.consumes, Produces: r.produces, Schemes: []string{"https"},
		Tags: []string{r.tag}, OperationID: r.operationID, Action: r.action, GVK: r.gvk,
		Responses: map[string]responseV2{},
	}
	if r.body != nil {
		s, _, err := typeSchema(defs, r.body.typ)
		if err != nil {
			return nil, err
		}
		op.Parameters = append(op.Parameters, parameterV2{Name: "body", In: "body", Required: r.body.required, Schema: s})
	}
	for _, q := range r.query {
		op.Parameters = append(op.Parameters, parameterV2For(q))
	}
	for _, resp := range r.responses {
		s, _, err := typeSchema(defs, resp.typ)
		if err != nil {
			return nil, err
		}
		op.Responses[strconv.Itoa(resp.code)] = responseV2{Description: http.StatusText(resp.code), Schema: s}
	}
	op.Responses["401"] = responseV2{Description: http.StatusText(http.StatusUnauthorized)}
	return op, nil
}

func parameterV2For(p param) parameterV2 {
	return parameterV2{Name: p.name, In: p.in, Description: p.description, Required: p.required, Type: p.typ, UniqueItems: true}
}

// typeSchema is a reference to t's definition, or a plain string schema when t is nil; it also
// returns the definition's name.
func typeSchema(defs *definitions, t reflect.Type) (*jsonSchema, string, error) {
	if t == nil {
		return &jsonSchema{Type: "string"}, "", nil
	}
	name, err := defs.define(t)
	if err != nil {
		return nil, "", err
	}
	return &jsonSchema{Ref: defs.dialect.ref(name)}, name, nil
}
