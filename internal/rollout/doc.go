// Package rollout reads the opt-in skiff.dev/ annotations that turn a plain
// Deployment's rolling update into a canary that pauses itself at given
// shares of new pods, and that roll a bad revision back by themselves. The
// API server's Deployment validation and the Deployment controller share
// this one parser, so a value the controller would not understand is refused
// where it is written.
package rollout
