// Package registry describes every resource skiff serves: its names, its Go types, and the rules
// the API server applies to it — defaulting, validation, update rules (spec vs status, immutable
// fields, generation bumps), table columns for kubectl get, and the fields a field selector can use.
//
// Each kind is one Kind value, defined in one file; All lists them. The API server is generic over
// Resource, a Kind's type-erased form, and holds no knowledge of any one kind.
package registry
