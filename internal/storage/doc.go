// Package storage defines the narrow, etcd-shaped key-value interface the API server keeps its objects in.
//
// Every write bumps one global, monotonically increasing revision; an object's resourceVersion is the
// revision of its last write. Backends: bolt (embedded, default) and etcd.
package storage
