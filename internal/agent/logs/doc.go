// Package logs writes containers' stdout and stderr to files, one line per entry in the CRI
// format kubelets use ("<RFC3339Nano time> <stream> <F|P> <text>"), rotates them by size, and
// reads them back with the options of `kubectl logs`: tail, since, timestamps, byte limit and
// follow.
package logs
