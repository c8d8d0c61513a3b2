// Package servicevars builds the environment variables a pod's containers get for the Services
// of its namespace (KUBIA_SERVICE_HOST, KUBIA_SERVICE_PORT, KUBIA_PORT_80_TCP_ADDR, ...),
// exactly as upstream's kubelet names and fills them.
package servicevars
