// Package kubestate computes kube-state-metrics' Deployment and ReplicaSet series from the
// objects the API server already holds, when /metrics is scraped: names, labels and values as
// kube-state-metrics publishes them, so its dashboards and alerts work against skiff without
// running it.
package kubestate
