// Package podcontrol creates, deletes and patches the pods of a controller and
// records the events kubectl describe shows for them (SuccessfulCreate,
// FailedCreate, SuccessfulDelete, FailedDelete), with upstream's wording. It
// also indexes pods by their controller so a controller can find its own pods
// and the orphans it may adopt without scanning the namespace.
package podcontrol
