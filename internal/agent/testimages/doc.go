// Package testimages holds the stand-ins for the container images Kubernetes' own end-to-end and
// conformance tests run most: agnhost (netexec, serve-hostname, pause, logs-generator, porter,
// liveness, test-webserver, connect, entrypoint-tester), httpd, nginx and the pause container.
// The skiff binary runs them through its hidden test-image subcommand when a pod names one of
// those images; each behaves as its upstream image does, listening on the pod's IP.
package testimages
