// Package openapi generates the OpenAPI documents kubectl and client-go read from the API server:
// one Swagger 2.0 document (/openapi/v2, JSON or protobuf) and one OpenAPI 3.0 document per served
// group-version (/openapi/v3/<group-version>, indexed with content hashes at /openapi/v3).
//
// Schemas come from reflection over the k8s.io/api Go types: json tags give the fields, SwaggerDoc
// gives the descriptions, patch tags give the strategic-merge extensions. Paths and operations come
// from the registry's resources. New builds every document, so mistakes surface at startup; each is
// encoded on its first request (JSON, then protobuf only if asked for) and served from memory.
package openapi
