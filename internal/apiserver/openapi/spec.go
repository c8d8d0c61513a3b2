package openapi

// The JSON shapes of the documents, in the subset skiff emits. Maps marshal with sorted keys, so
// a document's bytes (and therefore its hash) depend only on its content.

// gvk is the value of an x-kubernetes-group-version-kind extension.
type gvk struct {
	Group   string `json:"group"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
}

// schema is a Schema Object; Swagger 2.0 and OpenAPI 3.0 share this subset.
type jsonSchema struct {
	Ref                  string                 `json:"$ref,omitempty"`
	AllOf                []*jsonSchema          `json:"allOf,omitempty"`
	OneOf                []*jsonSchema          `json:"oneOf,omitempty"`
	Description          string                 `json:"description,omitempty"`
	Type                 string                 `json:"type,omitempty"`
	Format               string                 `json:"format,omitempty"`
	UniqueItems          bool                   `json:"uniqueItems,omitempty"`
	Items                *jsonSchema            `json:"items,omitempty"`
	Properties           map[string]*jsonSchema `json:"properties,omitempty"`
	AdditionalProperties *jsonSchema            `json:"additionalProperties,omitempty"`
	Required             []string               `json:"required,omitempty"`
	Default              any                    `json:"default,omitempty"`

	GroupVersionKinds []gvk    `json:"x-kubernetes-group-version-kind,omitempty"`
	IntOrString       bool     `json:"x-kubernetes-int-or-string,omitempty"`
	PatchMergeKey     string   `json:"x-kubernetes-patch-merge-key,omitempty"`
	PatchStrategy     string   `json:"x-kubernetes-patch-strategy,omitempty"`
	ListType          string   `json:"x-kubernetes-list-type,omitempty"`
	ListMapKeys       []string `json:"x-kubernetes-list-map-keys,omitempty"`
	MapType           string   `json:"x-kubernetes-map-type,omitempty"`
}

// info is the Info Object of both versions.
type info struct {
	Title   string `json:"title"`
	Version string `json:"version"`
}

// securityScheme is the bearer-token scheme; v2 calls it a security definition.
type securityScheme struct {
	Description string `json:"description"`
	In          string `json:"in"`
	Name        string `json:"name"`
	Type        string `json:"type"`
}

// bearerToken is how every operation authenticates.
func bearerToken() map[string]securityScheme {
	return map[string]securityScheme{"BearerToken": {
		Description: "Bearer Token authentication", In: "header", Name: "authorization", Type: "apiKey",
	}}
}

// bearerSecurity requires bearerToken for the whole document.
func bearerSecurity() []map[string][]string {
	return []map[string][]string{{"BearerToken": {}}}
}

// Swagger 2.0.

type swaggerV2 struct {
	Swagger             string                    `json:"swagger"`
	Info                info                      `json:"info"`
	Paths               map[string]*pathItemV2    `json:"paths"`
	Definitions         map[string]*jsonSchema    `json:"definitions"`
	Parameters          map[string]parameterV2    `json:"parameters,omitempty"`
	SecurityDefinitions map[string]securityScheme `json:"securityDefinitions"`
	Security            []map[string][]string     `json:"security"`
}

type pathItemV2 struct {
	Get        *operationV2  `json:"get,omitempty"`
	Put        *operationV2  `json:"put,omitempty"`
	Post       *operationV2  `json:"post,omitempty"`
	Delete     *operationV2  `json:"delete,omitempty"`
	Patch      *operationV2  `json:"patch,omitempty"`
	Parameters []parameterV2 `json:"parameters,omitempty"`
}

type operationV2 struct {
	Description string                `json:"description,omitempty"`
	Consumes    []string              `json:"consumes,omitempty"`
	Produces    []string              `json:"produces,omitempty"`
	Schemes     []string              `json:"schemes,omitempty"`
	Tags        []string              `json:"tags,omitempty"`
	OperationID string                `json:"operationId"`
	Parameters  []parameterV2         `json:"parameters,omitempty"`
	Responses   map[string]responseV2 `json:"responses"`
	Action      string                `json:"x-kubernetes-action,omitempty"`
	GVK         *gvk                  `json:"x-kubernetes-group-version-kind,omitempty"`
}

// parameterV2 is a parameter, or a reference to one of the document's shared parameters.
type parameterV2 struct {
	Ref         string      `json:"$ref,omitempty"`
	Name        string      `json:"name,omitempty"`
	In          string      `json:"in,omitempty"`
	Description string      `json:"description,omitempty"`
	Required    bool        `json:"required,omitempty"`
	Type        string      `json:"type,omitempty"`
	UniqueItems bool        `json:"uniqueItems,omitempty"`
	Schema      *jsonSchema `json:"schema,omitempty"`
}

type responseV2 struct {
	Description string      `json:"description"`
	Schema      *jsonSchema `json:"schema,omitempty"`
}

// OpenAPI 3.0.

type openAPIV3 struct {
	OpenAPI    string                 `json:"openapi"`
	Info       info                   `json:"info"`
	Paths      map[string]*pathItemV3 `json:"paths"`
	Components componentsV3           `json:"components"`
	Security   []map[string][]string  `json:"security"`
}

type componentsV3 struct {
	Schemas         map[string]*jsonSchema    `json:"schemas"`
	SecuritySchemes map[string]securityScheme `json:"securitySchemes"`
}

type pathItemV3 struct {
	Get        *operationV3  `json:"get,omitempty"`
	Put        *operationV3  `json:"put,omitempty"`
	Post       *operationV3  `json:"post,omitempty"`
	Delete     *operationV3  `json:"delete,omitempty"`
	Patch      *operationV3  `json:"patch,omitempty"`
	Parameters []parameterV3 `json:"parameters,omitempty"`
}

type operationV3 struct {
	Tags        []string              `json:"tags,omitempty"`
	Description string                `json:"description,omitempty"`
	OperationID string                `json:"operationId"`
	Parameters  []parameterV3         `json:"parameters,omitempty"`
	RequestBody *requestBodyV3        `json:"requestBody,omitempty"`
	Responses   map[string]responseV3 `json:"responses"`
	Action      string                `json:"x-kubernetes-action,omitempty"`
	GVK         *gvk                  `json:"x-kubernetes-group-version-kind,omitempty"`
}

type parameterV3 struct {
	Name        string      `json:"name"`
	In          string      `json:"in"`
	Description string      `json:"description,omitempty"`
	Required    bool        `json:"required,omitempty"`
	Schema      *jsonSchema `json:"schema"`
}

type requestBodyV3 struct {
	Content  map[string]mediaTypeV3 `json:"content"`
	Required bool                   `json:"required,omitempty"`
}

type mediaTypeV3 struct {
	Schema *jsonSchema `json:"schema"`
}

type responseV3 struct {
	Description string                 `json:"description"`
	Content     map[string]mediaTypeV3 `json:"content,omitempty"`
}
