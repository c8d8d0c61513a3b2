// Package controller is the worker loop every controller runs, sample-controller's loop written
// once: event handlers add keys, workers take one key at a time, sync it and, when the sync
// fails, retry it with back-off or drop it after a number of retries. Each controller states its
// retry policy, and how it compares with upstream's controller of the same name, where it builds
// its Loop.
package controller
