// Package probe runs a container's readiness, liveness and startup probes the way kubelets do:
// httpGet, tcpSocket and exec checks with upstream's messages, and a Worker per probe that waits
// initialDelaySeconds, probes every periodSeconds with timeoutSeconds, and changes its result only
// after successThreshold successes or failureThreshold failures in a row.
package probe
