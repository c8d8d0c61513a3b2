// Package cli implements skiff's subcommands, one file each: its flags, the configuration they
// resolve to, and the function that runs it. cmd/skiff only lists the subcommands; everything a
// subcommand does starts here.
package cli
