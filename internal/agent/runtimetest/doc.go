// Package runtimetest is an in-memory container runtime for the node agent's tests: a started
// container runs until it is stopped or the test ends it, exec calls are answered by the test,
// and every start and stop is recorded in order.
package runtimetest
