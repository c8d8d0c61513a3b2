// Package apiserver serves the Kubernetes API over HTTP(S): discovery, OpenAPI, CRUD, watch, patch and
// tables for every resource the registry describes, keeping objects in a storage.Store behind a
// watch cache.
package apiserver
