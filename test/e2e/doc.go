// Package e2e drives a real `skiff server` process from outside, the way a user does: with the
// kubectl versions bundled on the machine (1.27–1.33), the built-in `skiff kubectl`, and client-go
// over HTTPS. Every server a test starts gets its own data directory and port and is stopped by
// that test.
package e2e
