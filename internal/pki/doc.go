// Package pki creates and reuses the credentials a skiff server keeps in its data directory: a
// certificate authority, serving certificates it signs, and random bearer tokens. Every function
// reads what is already on disk first and writes only what is missing, stale or does not match
// what the caller asked for, so a restart costs a few file reads.
package pki
