// Package fake is a node agent without a runtime, like KWOK: it registers a
// Node that reports Ready, renews the node's Lease, and turns every pod bound
// to it Running and Ready (optionally after a delay) with a pod IP from its
// own range; a pod marked for deletion is removed at once. It lets the
// control plane be tested, and measured at scale, apart from real processes.
package fake
