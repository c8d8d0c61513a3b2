// Package deployment rolls Deployments out through ReplicaSets with upstream
// Kubernetes' semantics and bookkeeping, so that kubectl rollout status,
// history, undo, pause and resume, set image and scale behave against skiff
// as they do against Kubernetes.
//
// The layout follows upstream's controller: sync.go holds the sync ladder,
// scaling and status; rolling.go and recreate.go the two strategies;
// progress.go the Progressing and Available conditions and deadlines;
// history.go revisions, annotations and revision history cleanup; plan.go the
// pure arithmetic (surge and unavailability, new and old ReplicaSet sizes,
// proportional scaling) that the strategies apply. Beyond upstream, and only
// for Deployments that opt in with skiff.dev/ annotations (internal/rollout):
// canary.go pauses a rolling update at each canary step, autorollback.go
// rolls a failing revision back to the last one that completed.
package deployment
