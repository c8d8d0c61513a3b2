package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/logs/klogflags"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/plugin"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	// Credential plugins kubeconfigs may name (exec, oidc), as the kubectl binary has them.
	_ "k8s.io/client-go/plugin/pkg/client/auth"
)

// NewKubectlCommand returns `skiff kubectl`: the kubectl of k8s.io/kubectl, built in. Every
// argument after "kubectl" goes to it unchanged.
func NewKubectlCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "kubectl [flags] COMMAND",
		Short: "Run kubectl, built in",
		Long: `Run kubectl, built in: every argument goes to kubectl unchanged.

It reads --kubeconfig, else $KUBECONFIG, else ~/.kube/config, and when none of these exists
the kubeconfig in the default server data directory.`,
		DisableFlagParsing: true,
		Run: func(_ *cobra.Command, args []string) {
			RunKubectl(args)
		},
	}
}

// RunKubectl runs kubectl with args (without the program name) as the kubectl binary does:
// output, errors and exit codes are kubectl's. It returns if the command succeeds and exits the
// process otherwise.
func RunKubectl(args []string) {
	if path := fallbackKubeconfig(args, os.Getenv, clientcmd.RecommendedHomeFile, defaultKubeconfig()); path != "" {
		os.Setenv(clientcmd.RecommendedConfigPathEnvVar, path)
	}

	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmd := kubectlcmd.NewDefaultKubectlCommandWithArgs(kubectlcmd.KubectlOptions{
		PluginHandler: kubectlcmd.NewDefaultPluginHandler(plugin.ValidPluginFilenamePrefixes),
		Arguments:     append([]string{"kubectl"}, args...),
		// The settings kubectl's own main uses.
		ConfigFlags: genericclioptions.NewConfigFlags(true).
			WithDeprecatedPasswordFlag().
			WithDiscoveryBurst(300).
			WithDiscoveryQPS(50.0).
			WithWarningPrinter(streams),
		IOStreams: streams,
	})
	cmd.SetArgs(append([]string{}, args...)) // non-nil: cobra must not fall back to os.Args
	addKlogFlags(cmd.PersistentFlags())
	// kubectl prints its own errors (cmdutil.CheckErr); cobra must not print them again.
	cmd.SilenceErrors = true
	if err := cmd.Execute(); err != nil {
		cmdutil.CheckErr(err)
	}
}

// addKlogFlags adds the logging flags kubectl has (-v and --vmodule), as component-base's
// logs.AddFlags does for the kubectl binary.
func addKlogFlags(fs *pflag.FlagSet) {
	var gofs flag.FlagSet
	klogflags.Init(&gofs)
	gofs.VisitAll(func(f *flag.Flag) {
		pf := pflag.PFlagFromGoFlag(f)
		if f.Name == "vmodule" {
			pf.Usage += " (only works for the default text log format)"
		}
		if fs.Lookup(pf.Name) == nil {
			fs.AddFlag(pf)
		}
	})
}

// defaultKubeconfig is the kubeconfig a server with the default data directory writes, or "" if
// there is no default data directory.
func defaultKubeconfig() string {
	dir, err := DefaultDataDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, kubeconfigFile)
}

// fallbackKubeconfig returns serverConfig if kubectl would otherwise find no kubeconfig: no
// --kubeconfig among args, no $KUBECONFIG, no homeConfig file, and serverConfig exists.
// Otherwise it returns "" and kubectl's own rules apply.
func fallbackKubeconfig(args []string, getenv func(string) string, homeConfig, serverConfig string) string {
	if serverConfig == "" || getenv(clientcmd.RecommendedConfigPathEnvVar) != "" {
		return ""
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--kubeconfig" || strings.HasPrefix(a, "--kubeconfig=") {
			return ""
		}
	}
	if _, err := os.Stat(homeConfig); err == nil {
		return ""
	}
	if _, err := os.Stat(serverConfig); err != nil {
		return ""
	}
	return serverConfig
}
