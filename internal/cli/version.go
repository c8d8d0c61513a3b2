package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// NewVersionCommand returns `skiff version`, which prints skiff's version (version, as stamped
// at link time; empty means the module version Go recorded, else "dev") and the Kubernetes API
// version skiff serves.
func NewVersionCommand(version string) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print skiff's version and the Kubernetes API version it serves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, _ := debug.ReadBuildInfo()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "skiff version %s\n", skiffVersion(version, bi))
			fmt.Fprintf(out, "Kubernetes API %s\n", kubernetesVersion(bi))
			fmt.Fprintf(out, "Go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

func skiffVersion(stamped string, bi *debug.BuildInfo) string {
	switch {
	case stamped != "":
		return stamped
	case bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)":
		return bi.Main.Version
	}
	return "dev"
}

// kubernetesVersion is the Kubernetes release whose API types skiff is built with: k8s.io/api
// v0.X.Y is Kubernetes v1.X.Y.
func kubernetesVersion(bi *debug.BuildInfo) string {
	if bi != nil {
		for _, dep := range bi.Deps {
			if dep.Path != "k8s.io/api" {
				continue
			}
			if rest, ok := strings.CutPrefix(dep.Version, "v0."); ok {
				return "v1." + rest
			}
			return dep.Version
		}
	}
	return "unknown"
}
