// Package controllerref decides which objects a controller owns, the way
// upstream's ControllerRefManager does: an owner keeps the objects that carry
// its controller reference and still match its selector, adopts orphans that
// match, and releases the ones that stopped matching. Adoption and release are
// strategic merge patches on metadata.ownerReferences, guarded by the
// dependent's UID.
package controllerref
