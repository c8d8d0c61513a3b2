// Package apiservertest starts a real API server for tests: over a bolt store in the test's
// temporary directory, with no listener (clients use its LoopbackConfig or its Handler), stopped
// when the test ends. The API server's own suite and the controller test kit both run on it.
package apiservertest
