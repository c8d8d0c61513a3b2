// Package metrics holds what every skiff process exposes on /metrics besides its own series:
// client-go's request and workqueue metrics under upstream's names (rest_client_*, workqueue_*),
// and the Go runtime and process collectors, so that dashboards built for Kubernetes components
// read skiff unchanged. client-go's hooks are process-wide, so they are installed once per process.
package metrics
