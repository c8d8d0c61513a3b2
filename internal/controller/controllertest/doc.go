// Package controllertest runs controllers against skiff's own API server, in-process over a
// store in a temporary directory, so that they meet the API semantics a cluster has (names
// from generateName, resourceVersions, the status subresource, patches, graceful deletion,
// finalizers, admission) rather than a copy of them. The controllers' time is a fake clock the
// test steps. A test seeds objects through the API, can inspect the requests its clients sent,
// and waits for what it expects by re-checking on every informer event, never by sleeping;
// Changes gives the same wait to tests built over other fakes.
package controllertest
