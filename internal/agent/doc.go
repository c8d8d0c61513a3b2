// Package agent is skiff's node agent, the kubelet's job: it registers its Node, renews the
// node's Lease, watches the pods bound to it and runs one worker per pod that starts the pod's
// containers through a Runtime, probes them, restarts them with back-off, and reports what it
// sees through pods/status and events. It also serves the containers' logs (pods/log) and, as
// the kubelet does, exec, attach and port forwarding (pods/exec, pods/attach, pods/portforward);
// LogProxy is the API server's side of both.
package agent
