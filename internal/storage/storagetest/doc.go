// Package storagetest is the conformance suite for storage.Store backends: Run checks the
// behaviour the API server relies on (compare-and-swap writes, prefix lists, one global
// revision, gap-free watches, compaction, closing) against any backend given a constructor.
package storagetest
