// Package namespace finishes namespace deletion: for a namespace with a
// deletionTimestamp it deletes every object of the given resources in it,
// waits until they are gone (reporting progress in the namespace's status
// conditions as Kubernetes does), then removes the "kubernetes" finalizer
// through namespaces/finalize so the API server can delete the namespace.
package namespace
