package testimages

import (
	"context"
	"flag"
	"fmt"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
)

// agnhostVersion is the agnhost release whose behaviour the stand-in follows.
const agnhostVersion = "2.56"

// agnhost is the stand-in for registry.k8s.io/e2e-test-images/agnhost: one program whose first
// argument picks a mode. Without one it prints its help, as the image does with no args.
func (p *Proc) agnhost(ctx context.Context) *cobra.Command {
	root := &cobra.Command{
		Use:     "app",
		Version: agnhostVersion,
		Short:   "agnhost: the Kubernetes end-to-end tests' test image (skiff's stand-in)",
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetOut(p.Stdout)
	root.SetErr(p.Stderr)
	root.AddCommand(
		p.netexecCommand(ctx),
		p.serveHostnameCommand(ctx),
		p.pauseCommand(),
		p.logsGeneratorCommand(ctx),
		p.testWebserverCommand(ctx),
		p.porterCommand(ctx),
		p.livenessCommand(ctx),
		p.connectCommand(),
		p.entrypointTesterCommand(),
	)
	// Tests pass klog's flags to any mode (-v=4); accept them as agnhost does.
	logging := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(logging)
	root.PersistentFlags().AddGoFlagSet(logging)
	return root
}

// pauseCommand is agnhost's pause: it prints "Paused" and waits; SIGINT ends it with 1, SIGTERM
// with 2.
func (p *Proc) pauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "pause",
		Short: "Pauses the execution",
		Args:  cobra.MaximumNArgs(0),
		Run: func(*cobra.Command, []string) {
			fmt.Fprintln(p.Stdout, "Paused")
			switch <-p.Notify(syscall.SIGINT, syscall.SIGTERM) {
			case syscall.SIGINT:
				p.Exit(1)
			default:
				p.Exit(2)
			}
		},
	}
}

// pauseContainer is registry.k8s.io/pause: it waits for SIGINT or SIGTERM and exits 0.
func (p *Proc) pauseContainer() {
	sig := <-p.Notify(syscall.SIGINT, syscall.SIGTERM)
	fmt.Fprintf(p.Stderr, "Shutting down, got signal: %v\n", sig)
}

// entrypointTesterCommand prints the program's whole argv, as the container ran it, and exits.
func (p *Proc) entrypointTesterCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "entrypoint-tester",
		Short:              "Prints the args it's passed and exits",
		DisableFlagParsing: true,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(p.Stdout, "%v\n", append([]string{p.Argv0}, p.args...))
		},
	}
}
