// Package replicaset keeps the number of pods of a ReplicaSet, or of a
// ReplicationController, at its spec.replicas, the way upstream's
// ReplicaSetController does: it adopts and releases pods by selector, creates
// missing pods in slow-start batches, deletes surplus pods in upstream's
// ranking order, and reports replicas, fullyLabeledReplicas, readyReplicas,
// availableReplicas and the ReplicaFailure condition in status.
//
// One Controller type serves both kinds: a ReplicationController is seen
// through the ReplicaSet shape (its map selector as matchLabels), so the
// logic exists once, as upstream does with its conversion adapter.
package replicaset
