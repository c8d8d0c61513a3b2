// Package process is the node agent's container runtime for real OS processes. Each container is
// its own process group with its output written to a log file; stopping sends SIGTERM to the
// group and SIGKILL after the grace period. Children are started from one OS thread that lives as
// long as the runtime, with PR_SET_PDEATHSIG=SIGKILL, so an agent that dies takes its containers
// with it; what a crashed agent's containers left behind (grandchildren in their process groups)
// is found through the runtime's state files and killed by the next agent's ReapLeftovers.
// ExecStream and Attach serve kubectl exec and attach: a command run in a container's
// environment (on a terminal of its own when asked), and clients joined to a container's stdio,
// which keeps stdin open (stdin: true) and copies output to attached clients besides its log.
package process
