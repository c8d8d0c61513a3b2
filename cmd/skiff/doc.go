// Command skiff is a small Kubernetes-compatible cluster in one binary. main only lists the
// subcommands; each lives in internal/cli.
package main
