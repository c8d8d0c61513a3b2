package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/skiff-dev/skiff/internal/cli"
	// must initialise before kubectl's packages: loads translations only when running kubectl
	_ "github.com/skiff-dev/skiff/internal/kubectli18n"
)

// version is stamped at link time: -ldflags "-X main.version=v0.1.0".
var version string

func main() {
	if cli.RunKubiaApp(os.Args) || cli.RunTestImage(os.Args) { // the built-in images' apps: before building the command tree
		return
	}
	// Installed or linked as "kubectl", skiff is kubectl.
	if filepath.Base(os.Args[0]) == "kubectl" {
		cli.RunKubectl(os.Args[1:])
		return
	}

	root := &cobra.Command{
		Use:           "skiff",
		Short:         "skiff runs a small Kubernetes-compatible cluster from one binary",
		SilenceErrors: true, // main prints them, once, as kubectl does
		SilenceUsage:  true,
	}
	root.AddCommand(
		cli.NewServerCommand(),         // API server, embedded store, controllers
		cli.NewKubectlCommand(),        // kubectl, built in
		cli.NewServiceCommand(),        // where Services are reached: skiff service list
		cli.NewVersionCommand(version), // skiff and Kubernetes API versions
		cli.NewRollingUpdateCommand(),  // chapter 9.2's obsolete kubectl rolling-update, client-side
		cli.NewAgentCommand(), cli.NewImageCommand(), cli.NewKubiaCommand(), cli.NewTestImageCommand(),
	)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nSee '%s --help' for usage.", err, c.CommandPath())
	})

	if err := root.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}
