// Package controllertest runs controllers against client-go's fake clientset
// made to behave like an API server where controllers depend on it: names
// from generateName, UIDs, creation timestamps from a fake clock,
// resourceVersions with optimistic concurrency, the status subresource
// keeping spec and the main resource keeping status, generation bumped on
// spec changes, and strategic merge, JSON merge and JSON patches. Tests wait
// for what they expect by re-checking on every informer event, never by
// sleeping; Changes gives the same wait to tests built over other fakes.
package controllertest
