// Package expectations remembers, per controller key, the pod creations and
// deletions a controller has asked for but not yet seen in its informer, so
// that a sync running before the cache catches up does not act twice.
//
// It mirrors upstream's ControllerExpectations and
// UIDTrackingControllerExpectations: creations are counted, deletions are
// tracked by pod key so that each one is observed exactly once, and an
// expectation older than TTL is no longer trusted.
package expectations
