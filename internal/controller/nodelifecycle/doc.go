// Package nodelifecycle watches nodes' heartbeats (their Leases in kube-node-lease and their
// Ready condition) as Kubernetes' node lifecycle controller does: a node silent for longer than
// the grace period gets its conditions set to Unknown, its pods marked not ready and the
// node.kubernetes.io/unreachable taint; a node reporting Ready=False gets not-ready. Pods on a
// node with a NoExecute taint are evicted once their toleration runs out (300 s by default), so
// their ReplicaSets replace them elsewhere.
package nodelifecycle
