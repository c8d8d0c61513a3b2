// Package garbagecollector deletes objects whose owners are gone, following
// ownerReferences across the resources it is given, as Kubernetes' garbage
// collector does. Background deletion: once an owner is removed, dependents
// with no remaining owner are deleted. Foreground: an owner carrying the
// "foregroundDeletion" finalizer has its dependents deleted first and loses
// the finalizer once no dependent with blockOwnerDeletion is left. Orphan: an
// owner carrying the "orphan" finalizer has its references removed from its
// dependents, then loses the finalizer.
package garbagecollector
