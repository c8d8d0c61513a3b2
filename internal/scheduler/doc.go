// Package scheduler assigns pods that have no spec.nodeName to nodes, the job
// kube-scheduler does in Kubernetes. It keeps a cache of every node and of the
// requests already placed on it (including pods it has just bound but not yet
// seen back from the API), filters nodes as upstream's default plugins do
// (unschedulable, taints, node selector/affinity, resource fit), prefers nodes
// holding fewer pods of the same owner and then the least requested node, and
// binds through the pods/binding subresource. Pods that fit nowhere get a
// PodScheduled=False condition and a FailedScheduling event and are retried
// when nodes or pods change, and periodically with back-off.
package scheduler
