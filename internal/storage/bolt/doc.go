// Package bolt is the embedded, durable storage.Store: one bbolt file holding the current keys,
// an event log that watches replay from, and the store revision.
//
// Writes from many goroutines are group-committed by a single writer goroutine (one bbolt
// transaction and fsync per batch) and each returns only once its own write is on disk. A
// background goroutine compacts the event log so the file stays bounded.
package bolt
